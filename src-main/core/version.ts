/** Replaced at build time by the bundlers; falls back to the package version under vitest. */
declare const __OCULAR_VERSION__: string | undefined;
export const VERSION: string = typeof __OCULAR_VERSION__ === 'string' ? __OCULAR_VERSION__ : '0.1.0-dev';
