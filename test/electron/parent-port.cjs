// The child side of the utilityProcess stand-in (electron.ts), preloaded with --require: gives the
// process Electron's `process.parentPort`, an EventEmitter whose 'message' events carry
// { data, ports } and whose postMessage sends to the parent, both structured-cloned (the fork uses
// serialization: 'advanced'). Like a MessagePort, it queues messages until something listens.
'use strict';
const { EventEmitter } = require('node:events');

const port = new EventEmitter();
const queued = [];
port.postMessage = (message) => {
  if (process.connected) process.send(message);
};
process.on('message', (data) => {
  const event = { data, ports: [] };
  if (port.listenerCount('message') > 0) port.emit('message', event);
  else queued.push(event);
});
port.on('newListener', (name) => {
  if (name === 'message') setImmediate(() => queued.splice(0).forEach((event) => port.emit('message', event)));
});
Object.defineProperty(process, 'parentPort', { value: port, enumerable: false });
