// A minimal FastCGI client (responder role, one request per connection) so
// a test can talk to a second copy of a service directly, as nginx would,
// without a second nginx.  Only what the tests need: params in, stdout out.
import net from 'node:net';

const VERSION = 1;
const BEGIN_REQUEST = 1;
const END_REQUEST = 3;
const PARAMS = 4;
const STDIN = 5;
const STDOUT = 6;

function record(type, body) {
  const pad = (8 - (body.length % 8)) % 8;
  const h = Buffer.alloc(8);
  h.writeUInt8(VERSION, 0);
  h.writeUInt8(type, 1);
  h.writeUInt16BE(1, 2); // request id
  h.writeUInt16BE(body.length, 4);
  h.writeUInt8(pad, 6);
  return Buffer.concat([h, body, Buffer.alloc(pad)]);
}

function lenBytes(n) {
  if (n < 128) return Buffer.from([n]);
  const b = Buffer.alloc(4);
  b.writeUInt32BE((n | 0x80000000) >>> 0, 0);
  return b;
}

function paramsBody(params) {
  const parts = [];
  for (const [k, v] of Object.entries(params)) {
    const kb = Buffer.from(k);
    const vb = Buffer.from(String(v));
    parts.push(lenBytes(kb.length), lenBytes(vb.length), kb, vb);
  }
  return Buffer.concat(parts);
}

/**
 * fcgiRequest(socketPath, {method, path, headers, body, timeoutMs})
 * headers: {name: value} sent as HTTP_<NAME>.  Resolves to
 * {status, headers (lower-case names), body}.
 */
export function fcgiRequest(socketPath, {
  method = 'GET', path = '/', headers = {}, body = '', timeoutMs = 10000,
} = {}) {
  const bodyBuf = Buffer.from(body);
  const params = {
    REQUEST_METHOD: method,
    REQUEST_URI: path,
    DOCUMENT_URI: path.split('?')[0],
    PATH_INFO: path.split('?')[0],
    SCRIPT_NAME: '',
    QUERY_STRING: path.includes('?') ? path.slice(path.indexOf('?') + 1) : '',
    CONTENT_LENGTH: String(bodyBuf.length),
    SERVER_PROTOCOL: 'HTTP/1.1',
    GATEWAY_INTERFACE: 'CGI/1.1',
    REMOTE_ADDR: '127.0.0.1',
  };
  for (const [k, v] of Object.entries(headers)) {
    const name = k.toLowerCase() === 'content-type' ? 'CONTENT_TYPE'
      : `HTTP_${k.toUpperCase().replace(/-/g, '_')}`;
    params[name] = v;
  }
  const begin = Buffer.alloc(8);
  begin.writeUInt16BE(1, 0); // responder
  const out = Buffer.concat([
    record(BEGIN_REQUEST, begin),
    record(PARAMS, paramsBody(params)),
    record(PARAMS, Buffer.alloc(0)),
    ...(bodyBuf.length ? [record(STDIN, bodyBuf)] : []),
    record(STDIN, Buffer.alloc(0)),
  ]);
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(socketPath);
    let buf = Buffer.alloc(0);
    let stdout = Buffer.alloc(0);
    let done = false;
    const timer = setTimeout(() => { sock.destroy(); if (!done) reject(new Error('fcgi timeout')); }, timeoutMs);
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const text = stdout.toString('utf8');
      const sep = text.indexOf('\r\n\r\n');
      const head = sep >= 0 ? text.slice(0, sep) : text;
      const hdrs = {};
      for (const line of head.split('\r\n')) {
        const i = line.indexOf(':');
        if (i > 0) hdrs[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      const status = Number((hdrs.status || '200').split(' ')[0]);
      resolve({ status, headers: hdrs, body: sep >= 0 ? text.slice(sep + 4) : '' });
    };
    sock.on('connect', () => sock.write(out));
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 8) {
        const type = buf.readUInt8(1);
        const len = buf.readUInt16BE(4);
        const pad = buf.readUInt8(6);
        if (buf.length < 8 + len + pad) break;
        const content = buf.subarray(8, 8 + len);
        buf = buf.subarray(8 + len + pad);
        if (type === STDOUT) stdout = Buffer.concat([stdout, content]);
        if (type === END_REQUEST) finish();
      }
    });
    sock.on('end', finish);
    sock.on('error', (err) => { if (!done) { done = true; clearTimeout(timer); reject(err); } });
  });
}
