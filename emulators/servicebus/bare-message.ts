/**
 * AMQP 1.0 messages are a run of described sections: header, delivery-annotations and
 * message-annotations (which a broker may rewrite), then the bare message (properties,
 * application-properties, body, footer), which the spec says a broker must pass on unchanged.
 * A real broker forwards the bare message's bytes as received; so does the peer, instead of
 * decoding and re-encoding every field and body for each delivery.
 */

/** Section descriptor codes (small-ulong form). */
const FIRST_BARE_SECTION = 0x73; // properties
const LAST_SECTION = 0x78; // footer

/**
 * Where the bare message starts in an encoded message, or undefined when the encoding is not
 * the plain form this scanner reads (then the caller decodes and re-encodes as before).
 */
export function bareMessageOffset(encoded: Uint8Array): number | undefined {
  let pos = 0;
  while (pos < encoded.length) {
    // A section: 0x00 (described), 0x53 <code> (small-ulong descriptor), then its value.
    if (encoded[pos] !== 0x00 || encoded[pos + 1] !== 0x53) return undefined;
    const code = encoded[pos + 2] ?? 0;
    if (code >= FIRST_BARE_SECTION) return code <= LAST_SECTION ? pos : undefined;
    if (code < 0x70) return undefined;
    const value = pos + 3;
    switch (encoded[value]) {
      case 0x40: // null
      case 0x45: // list0
        pos = value + 1;
        break;
      case 0xc0: // list8
      case 0xc1: // map8
        if (value + 1 >= encoded.length) return undefined;
        pos = value + 2 + (encoded[value + 1] ?? 0);
        break;
      case 0xd0: // list32
      case 0xd1: {
        // map32
        if (value + 5 > encoded.length) return undefined;
        const size = ((encoded[value + 1] ?? 0) << 24) | ((encoded[value + 2] ?? 0) << 16) | ((encoded[value + 3] ?? 0) << 8) | (encoded[value + 4] ?? 0);
        pos = value + 5 + (size >>> 0);
        break;
      }
      default:
        return undefined;
    }
  }
  return undefined;
}

/**
 * The delivery of a stored message: `prefix` is the broker's own encoding of the message with
 * the header and annotations it sets (whatever it appends after them is cut off), followed by
 * the bare message exactly as the sender encoded it.
 */
export function withBareMessage(prefix: Buffer, bare: Buffer): Buffer | undefined {
  const cut = bareMessageOffset(prefix);
  return cut === undefined ? undefined : Buffer.concat([prefix.subarray(0, cut), bare]);
}
