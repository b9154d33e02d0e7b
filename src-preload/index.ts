/**
 * Preload bridge: the only surface the sandboxed renderer has. It exposes a narrow API (invoke a
 * contract channel, receive backend events, pick a folder, see and restart the backend process)
 * and nothing of Node or Electron. Bundled as a single CommonJS file because sandboxed preloads
 * cannot load ESM. Workspace files are not named here: the app serves them under its own origin
 * at /files/, the path `ocular serve` uses.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';

function listen(channel: string, listener: (payload: unknown) => void): () => void {
  const wrapped = (_e: IpcRendererEvent, payload: unknown) => listener(payload);
  ipcRenderer.on(channel, wrapped);
  return () => ipcRenderer.removeListener(channel, wrapped);
}

contextBridge.exposeInMainWorld('ocular', {
  invoke: (channel: string, payload: unknown) => ipcRenderer.invoke('ocular:invoke', channel, payload),
  onEvent: (listener: (event: unknown) => void) => listen('ocular:event', listener),
  pickFolder: (purpose: 'create' | 'open') => ipcRenderer.invoke('ocular:pick-folder', purpose),
  backendStatus: () => ipcRenderer.invoke('ocular:backend-status'),
  onBackendStatus: (listener: (status: unknown) => void) => listen('ocular:backend-status', listener),
  restartBackend: () => ipcRenderer.invoke('ocular:restart-backend'),
});
