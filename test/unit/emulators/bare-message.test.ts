import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { describe, test } from "vitest";
import { bareMessageOffset, withBareMessage } from "../../../emulators/servicebus/bare-message.js";

interface RheaCodec {
  message: { encode(m: unknown): Buffer; decode(b: Buffer): Record<string, unknown>; data_section(b: Buffer): unknown };
  types: { wrap_long(n: number): unknown };
}
const rhea = createRequire(import.meta.url)("rhea") as RheaCodec;

const bareFields = {
  message_id: "m-1",
  correlation_id: "c-1",
  reply_to: "replies",
  reply_to_group_id: "instance-1",
  content_type: "application/octet-stream",
  application_properties: { tenantId: "t-1", n: 7 },
  body: rhea.message.data_section(Buffer.from("the body")),
};

describe("the bare message of an encoded AMQP message", () => {
  test("starts where the properties section starts, whatever header and annotations precede it", () => {
    const bigAnnotations = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`x-opt-k${i}`, "v".repeat(10)])); // map32
    for (const prefix of [{}, { ttl: 30_000, durable: true }, { message_annotations: { "x-opt-partition-key": "p" } }, { ttl: 5, message_annotations: bigAnnotations }]) {
      const encoded = rhea.message.encode({ ...prefix, ...bareFields });
      const at = bareMessageOffset(encoded);
      assert.ok(at !== undefined && at > 0, JSON.stringify(Object.keys(prefix)));
      // The bytes from there decode to exactly the bare message: no header or annotations.
      const bare = rhea.message.decode(encoded.subarray(at));
      assert.equal(bare.message_id, "m-1");
      assert.deepEqual(bare.application_properties, { tenantId: "t-1", n: 7 });
      assert.equal(bare.message_annotations, undefined);
      assert.equal(bare.ttl, undefined);
    }
  });

  test("a rewritten header and annotations in front of the sender's bare bytes decode to the whole message", () => {
    const sent = rhea.message.encode({ ttl: 30_000, ...bareFields });
    const bare = sent.subarray(bareMessageOffset(sent));
    const out = withBareMessage(rhea.message.encode({ ttl: 30_000, delivery_count: 2, message_annotations: { "x-opt-sequence-number": rhea.types.wrap_long(42) } }), bare);
    assert.ok(out !== undefined);
    const m = rhea.message.decode(out);
    assert.equal(m.delivery_count, 2);
    assert.equal(m.ttl, 30_000);
    assert.equal((m.message_annotations as Record<string, unknown>)["x-opt-sequence-number"], 42);
    assert.equal(m.reply_to_group_id, "instance-1");
    assert.equal(Buffer.from((m.body as { content: Uint8Array }).content).toString(), "the body");
  });

  test("an encoding it does not read is left to the full decoder (undefined), never guessed at", () => {
    assert.equal(bareMessageOffset(Buffer.from([0x00, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x70, 0x45])), undefined); // ulong descriptor
    assert.equal(bareMessageOffset(Buffer.from([0x00, 0x53, 0x70, 0xa1, 0x01, 0x41])), undefined); // header that is not a list
    assert.equal(bareMessageOffset(Buffer.from([0x00, 0x53, 0x72, 0xd1, 0x00, 0x00])), undefined); // truncated map32
    assert.equal(bareMessageOffset(Buffer.from([0x00, 0x53, 0x70, 0x45])), undefined); // no bare message at all
    assert.equal(bareMessageOffset(Buffer.from([0x00, 0x53, 0x79, 0x45])), undefined); // not a message section
  });
});
