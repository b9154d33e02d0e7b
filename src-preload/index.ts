/**
 * Preload bridge: the only surface the sandboxed renderer has. It exposes a narrow API
 * (invoke a contract channel, receive backend events, pick a folder) and nothing of Node or
 * Electron. Bundled as a single CommonJS file because sandboxed preloads cannot load ESM.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';

contextBridge.exposeInMainWorld('ocular', {
  invoke: (channel: string, payload: unknown) => ipcRenderer.invoke('ocular:invoke', channel, payload),
  onEvent: (listener: (event: unknown) => void) => {
    const wrapped = (_e: IpcRendererEvent, event: unknown) => listener(event);
    ipcRenderer.on('ocular:event', wrapped);
    return () => ipcRenderer.removeListener('ocular:event', wrapped);
  },
  pickFolder: (purpose: 'create' | 'open') => ipcRenderer.invoke('ocular:pick-folder', purpose),
  fileBaseUrl: 'ocular://workspace/',
});
