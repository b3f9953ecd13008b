// AWS event-stream encoding (the binary framing of Bedrock's ConverseStream), for fake Bedrock
// upstreams: prelude (total length, headers length, CRC32), string headers, JSON payload, CRC32.
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One message with string `headers` and a JSON `payload`. */
export function awsFrame(headers, payload) {
  const hs = Buffer.concat(Object.entries(headers).map(([k, v]) => {
    const name = Buffer.from(k), value = Buffer.from(v);
    const h = Buffer.alloc(1 + name.length + 3 + value.length);
    h.writeUInt8(name.length, 0); name.copy(h, 1);
    h.writeUInt8(7, 1 + name.length); h.writeUInt16BE(value.length, 2 + name.length); value.copy(h, 4 + name.length);
    return h;
  }));
  const body = Buffer.from(JSON.stringify(payload));
  const prelude = Buffer.alloc(12);
  prelude.writeUInt32BE(16 + hs.length + body.length, 0);
  prelude.writeUInt32BE(hs.length, 4);
  prelude.writeUInt32BE(crc32(prelude.subarray(0, 8)), 8);
  const msg = Buffer.concat([prelude, hs, body]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(msg), 0);
  return Buffer.concat([msg, crc]);
}

/** A ConverseStream event message. */
export const awsEvent = (type, payload) =>
  awsFrame({ ':event-type': type, ':content-type': 'application/json', ':message-type': 'event' }, payload);
/** A ConverseStream exception message. */
export const awsException = (type, message) =>
  awsFrame({ ':exception-type': type, ':content-type': 'application/json', ':message-type': 'exception' }, { message });
