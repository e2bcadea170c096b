import { generateKeyPairSync, randomBytes } from "node:crypto";
import { rsaOaepDecrypt, rsaOaepEncrypt } from "../shared/protocol/primitives.js";

export interface CryptoCeiling {
  rsaDecryptsPerSecond: number;
  rsaEncryptsPerSecond: number;
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
