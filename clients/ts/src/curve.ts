/**
 * CURVE keys for an encrypted, authenticated connection: the server's public key and this
 * client's key pair, as Z85 strings or as the files `skbridge keys DIR --name NAME` writes
 * (pyzmq's `zmq.auth` format: `NAME.key` holds `public-key = "..."`, `NAME.key_secret`
 * holds `public-key` and `secret-key`).
 *
 * @module
 */

import { readFileSync } from 'node:fs'

import { InvalidInputError } from './errors.js'

/**
 * This client's CURVE key pair: Z85 strings (40 characters each), or the path of a
 * `NAME.key_secret` file holding both.
 *
 * @example
 * ```ts
 * const clientKey: ClientKey = 'keys/alice.key_secret'
 * const same: ClientKey = { publicKey: 'Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID', secretKey: 'D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs' }
 * ```
 */
export type ClientKey = string | { publicKey: string; secretKey: string }

/**
 * The socket options that turn CURVE on for a client.
 *
 * @example
 * ```ts
 * const opts: CurveSocketOptions = resolveCurveKeys('keys/server.key', 'keys/alice.key_secret')
 * ```
 */
export interface CurveSocketOptions {
  curveServerKey: string
  curvePublicKey: string
  curveSecretKey: string
}

const Z85_KEY = /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/

/**
 * `true` when `text` has the form of a Z85-encoded 32-byte key.
 *
 * @example
 * ```ts
 * isZ85Key('Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID') // true
 * ```
 */
export function isZ85Key(text: string): boolean {
  return Z85_KEY.test(text)
}

/**
 * Reads the `public-key` and `secret-key` entries of a key file in pyzmq's `zmq.auth`
 * format (the secret one is absent from a `.key` file).
 *
 * @example
 * ```ts
 * parseKeyFile('curve\n    public-key = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"\n').publicKey
 * ```
 */
export function parseKeyFile(text: string, source = 'key file'): { publicKey: string; secretKey?: string } {
  const found: Record<string, string> = {}
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(public-key|secret-key)\s*=\s*"([^"]*)"\s*$/.exec(line)
    if (m) found[m[1] as string] = m[2] as string
  }
  const publicKey = found['public-key']
  if (publicKey === undefined) throw new InvalidInputError(`${source} has no public-key = "..." line`, 'serverKey')
  for (const [name, key] of Object.entries(found)) {
    if (!isZ85Key(key)) throw new InvalidInputError(`${source}: ${name} is not a 40-character Z85 key`)
  }
  const secretKey = found['secret-key']
  return secretKey === undefined ? { publicKey } : { publicKey, secretKey }
}

function readKeyFile(path: string, field: string): { publicKey: string; secretKey?: string } {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err)
    throw new InvalidInputError(`${JSON.stringify(path)} is neither a 40-character Z85 key nor a readable key file (${why})`, field)
  }
  return parseKeyFile(text, `key file ${JSON.stringify(path)}`)
}

function keyString(value: string, field: string): string {
  if (!isZ85Key(value)) throw new InvalidInputError(`not a 40-character Z85 key`, field)
  return value
}

/**
 * Resolves `serverKey` (a Z85 public key or the path of the server's `.key` file) and
 * `clientKey` into the DEALER's CURVE options. Throws `InvalidInputError` naming the
 * option when a key or file is malformed.
 *
 * @example
 * ```ts
 * const opts = resolveCurveKeys('keys/server.key', 'keys/alice.key_secret')
 * new Dealer({ ...opts })
 * ```
 */
export function resolveCurveKeys(serverKey: string, clientKey: ClientKey): CurveSocketOptions {
  const curveServerKey = isZ85Key(serverKey) ? serverKey : readKeyFile(serverKey, 'serverKey').publicKey
  if (typeof clientKey === 'string') {
    const pair = readKeyFile(clientKey, 'clientKey')
    if (pair.secretKey === undefined) {
      throw new InvalidInputError(`key file ${JSON.stringify(clientKey)} has no secret-key line: pass the NAME.key_secret file`, 'clientKey')
    }
    return { curveServerKey, curvePublicKey: pair.publicKey, curveSecretKey: pair.secretKey }
  }
  if (typeof clientKey !== 'object' || clientKey === null) {
    throw new InvalidInputError('expected { publicKey, secretKey } or the path of a .key_secret file', 'clientKey')
  }
  return {
    curveServerKey,
    curvePublicKey: keyString(clientKey.publicKey, 'clientKey.publicKey'),
    curveSecretKey: keyString(clientKey.secretKey, 'clientKey.secretKey'),
  }
}
