import { generateKeyPairSync, randomBytes } from "node:crypto";
import { rsaOaepDecrypt, rsaOaepEncrypt } from "../shared/protocol/primitives.js";

export interface CryptoCeiling {
  rsaDecryptsPerSecond: number;
  rsaEncryptsPerSecond: number;
}

export interface CryptoCeilingSample extends CryptoCeiling {
  /** When in the run it was taken ("start", "before concurrency 50", ...). */
  when: string;
}

/**
 * The ceiling a run is judged against: the median of samples taken at several points of the
 * run (at the start and either side of the judged level), not one sample at the start. On a
 * shared machine a single 2-second sample has come out 3,158/s in one run and 3,870/s in
 * another; the ratio should not hinge on which phase that one sample caught.
 */
export function medianCeiling(samples: readonly CryptoCeilingSample[]): CryptoCeiling & { samples: CryptoCeilingSample[] } {
  const median = (values: number[]): number => {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? (sorted[mid] as number) : Math.round(((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2);
  };
  return {
    rsaDecryptsPerSecond: median(samples.map((s) => s.rsaDecryptsPerSecond)),
    rsaEncryptsPerSecond: median(samples.map((s) => s.rsaEncryptsPerSecond)),
    samples: [...samples],
  };
}

/** RSA-2048 OAEP-SHA256 on one core: the per-password work of the agent (decrypt) and the cloud (encrypt). */
export function measureCryptoCeiling(seconds: number): CryptoCeiling {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const secret = randomBytes(32);
  const ciphertext = rsaOaepEncrypt(publicKey, secret);
  const rate = (fn: () => void): number => {
    for (let i = 0; i < 20; i++) fn();
    let n = 0;
    const start = process.hrtime.bigint();
    const budget = BigInt(Math.round(seconds * 1e9));
    while (process.hrtime.bigint() - start < budget) {
      fn();
      n++;
    }
    return n / (Number(process.hrtime.bigint() - start) / 1e9);
  };
  return {
    rsaDecryptsPerSecond: Math.round(rate(() => rsaOaepDecrypt(privateKey, ciphertext))),
    rsaEncryptsPerSecond: Math.round(rate(() => rsaOaepEncrypt(publicKey, secret))),
  };
}
