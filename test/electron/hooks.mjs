// Module resolve hook for the desktop e2e harness (registered with module.register): `electron` is
// the stand-in bundled beside this file, for the harness and the main process bundle alike.
const standIn = new URL('./electron.mjs', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  return specifier === 'electron' ? { url: standIn, shortCircuit: true } : nextResolve(specifier, context);
}
