/**
 * Starting and stopping a local server process (`<python> -m bridge serve`).
 *
 * @module
 */

import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'

import { BridgeModuleMissingError, PythonNotFoundError, ServerStartError } from './errors.js'
import { PROTOCOL_VERSION } from './generated/protocol.js'

/** How many characters of the server's stderr are kept for error messages. */
const STDERR_TAIL_CHARS = 4000

/**
 * The ready line a server prints on stdout once it listens.
 *
 * @example
 * ```ts
 * const ready: ReadyLine = { event: 'ready', endpoint: 'ipc:///tmp/skbridge-x/sock', protocol: 1, pid: 4242 }
 * ```
 */
export interface ReadyLine {
  event: 'ready'
  endpoint: string
  protocol: number
  pid: number
}

/**
 * Options of {@link spawnServer}.
 *
 * @example
 * ```ts
 * const server = await spawnServer({ python: '/usr/bin/python3', startupTimeout: 20_000 })
 * ```
 */
export interface SpawnOptions {
  /** The Python executable. */
  python: string
  /** Extra arguments after `-m bridge serve` (e.g. `['--debug']`). */
  args?: readonly string[]
  /** Endpoint the server should bind (`--endpoint`); the server picks a private ipc path when absent. */
  bind?: string
  /** Working directory of the server process. */
  cwd?: string
  /** Environment of the server process. */
  env?: Readonly<Record<string, string | undefined>>
  /** Milliseconds to wait for the ready line. */
  startupTimeout: number
  /** Called with each chunk the server writes on stderr (its logs, warnings, `verbose` progress). */
  onStderr?: (text: string) => void
}

/**
 * A running server process started by this client.
 *
 * @example
 * ```ts
 * const server = await spawnServer({ python: 'python3', startupTimeout: 20_000 })
 * console.log(server.ready.endpoint, server.pid)
 * await server.stop(2_000)
 * ```
 */
export class ServerProcess {
  /** The parsed ready line. */
  readonly ready: ReadyLine
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: string | null }>
  private readonly child: ChildProcess
  private readonly tail: StderrTail

  /** @internal Made by {@link spawnServer}. */
  constructor(child: ChildProcess, ready: ReadyLine, tail: StderrTail, exited: ServerProcess['exited']) {
    this.child = child
    this.ready = ready
    this.tail = tail
    this.exited = exited
  }

  /** The server's process id. */
  get pid(): number {
    return this.ready.pid
  }

  /** `true` once the process has exited. */
  get hasExited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null
  }

  /** The last characters the server wrote on stderr. */
  stderrTail(): string {
    return this.tail.text()
  }

  /** Sends a signal to the server process (ignored once it has exited). */
  kill(signal: 'SIGTERM' | 'SIGKILL' | 'SIGINT' = 'SIGTERM'): void {
    if (!this.hasExited) this.child.kill(signal)
  }

  /**
   * Waits up to `graceMs` for the process to exit (after a shutdown request), then sends
   * SIGTERM, and SIGKILL if that does not end it either.
   */
  async stop(graceMs: number): Promise<void> {
    if (this.hasExited) return
    if (await exitsWithin(this.exited, graceMs)) return
    this.kill('SIGTERM')
    if (await exitsWithin(this.exited, graceMs)) return
    this.kill('SIGKILL')
    await this.exited
  }
}

/** Keeps the last few thousand characters of a stream. */
class StderrTail {
  private buffer = ''
  push(chunk: string): void {
    this.buffer = (this.buffer + chunk).slice(-STDERR_TAIL_CHARS)
  }
  text(): string {
    return this.buffer.trimEnd()
  }
}

function parseReady(line: string): ReadyLine | undefined {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const v = value as Record<string, unknown>
  if (v.event !== 'ready' || typeof v.endpoint !== 'string') return undefined
  return {
    event: 'ready',
    endpoint: v.endpoint,
    protocol: typeof v.protocol === 'number' ? v.protocol : Number.NaN,
    pid: typeof v.pid === 'number' ? v.pid : Number.NaN,
  }
}

function startError(message: string, stderr: string): ServerStartError {
  const withTail = stderr ? `${message}\n--- server stderr (tail) ---\n${stderr}` : message
  if (/No module named '?bridge'?/.test(stderr)) {
    return new BridgeModuleMissingError(
      `${withTail}\n\nThe Python interpreter cannot import the skbridge server module "bridge". ` +
        'Install skbridge into that interpreter (pip install skbridge) or pass { python } / ' +
        'SKBRIDGE_PYTHON pointing at one that has it (or { cwd } at a checkout).',
      stderr,
    )
  }
  return new ServerStartError(withTail, stderr)
}

/**
 * Spawns `<python> -m bridge serve [--endpoint E]` and resolves once its ready line is read.
 *
 * Rejects with {@link PythonNotFoundError} when the executable does not exist,
 * {@link BridgeModuleMissingError} when Python cannot import `bridge`, and
 * {@link ServerStartError} when the process exits early, prints something that is not a
 * ready line, or stays silent past `startupTimeout` (the process is then killed).
 *
 * @example
 * ```ts
 * const server = await spawnServer({ python: 'python3', startupTimeout: 20_000 })
 * ```
 */
export function spawnServer(options: SpawnOptions): Promise<ServerProcess> {
  const args = ['-m', 'bridge', 'serve', ...(options.bind ? ['--endpoint', options.bind] : []), ...(options.args ?? [])]
  const child = spawn(options.python, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const tail = new StderrTail()
  child.stderr?.setEncoding('utf8')
  const onStderr = options.onStderr
  child.stderr?.on('data', (chunk: string) => {
    tail.push(chunk)
    onStderr?.(chunk)
  })

  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }))
  })

  return new Promise<ServerProcess>((resolve, reject) => {
    let settled = false
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
    const timer = setTimeout(() => {
      finish(new ServerStartError(`The skbridge server printed no ready line within ${options.startupTimeout} ms`, tail.text()))
      child.kill('SIGKILL')
    }, options.startupTimeout)

    const finish = (result: ServerProcess | Error): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (result instanceof Error) reject(result)
      else resolve(result)
    }

    child.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') finish(new PythonNotFoundError(options.python, err))
      else finish(new ServerStartError(`Could not start ${options.python}: ${err.message}`, tail.text()))
    })
    // 'close' (not 'exit') so that stderr has been read to the end.
    void exited.then(({ code, signal }) => {
      if (settled) return
      const how = signal ? `was killed by ${signal}` : `exited with code ${String(code)}`
      finish(startError(`The skbridge server (${options.python} ${args.join(' ')}) ${how} before it was ready`, tail.text()))
    })
    lines.once('line', (line) => {
      const ready = parseReady(line)
      if (!ready) {
        child.kill('SIGKILL')
        finish(new ServerStartError(`Expected the server's ready line on stdout, got: ${line.slice(0, 200)}`, tail.text()))
        return
      }
      // The protocol says nothing else follows on stdout; keep draining it regardless.
      child.stdout?.resume()
      finish(new ServerProcess(child, ready, tail, exited))
    })
  })
}

/** Every started server that is still running, killed if this process exits first. */
const liveServers = new Set<ServerProcess>()
let exitHookInstalled = false

function trackServer(server: ServerProcess): void {
  liveServers.add(server)
  void server.exited.then(() => liveServers.delete(server))
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.once('exit', () => {
      for (const s of liveServers) s.kill('SIGTERM')
    })
  }
}

/**
 * Turns the `serverOutput` option into a stderr callback.
 *
 * @example
 * ```ts
 * stderrSink('ignore') // undefined
 * ```
 */
export function stderrSink(output: 'inherit' | 'ignore' | ((text: string) => void)): ((text: string) => void) | undefined {
  if (output === 'ignore') return undefined
  if (output === 'inherit') return (text) => void process.stderr.write(text)
  return output
}

/**
 * {@link spawnServer}, then: the server is killed if this process exits first, and one
 * that speaks another protocol version is stopped and refused.
 *
 * @example
 * ```ts
 * const server = await startServer({ python: 'python3', startupTimeout: 20_000 })
 * ```
 */
export async function startServer(options: SpawnOptions): Promise<ServerProcess> {
  const server = await spawnServer(options)
  trackServer(server)
  if (server.ready.protocol !== PROTOCOL_VERSION) {
    server.kill('SIGTERM')
    throw new ServerStartError(`The server speaks protocol ${server.ready.protocol}; this client speaks ${PROTOCOL_VERSION}`, server.stderrTail())
  }
  return server
}

/**
 * Resolves `true` when `exited` settles within `ms`, else `false`.
 *
 * @example
 * ```ts
 * if (!(await exitsWithin(server.exited, 500))) server.kill('SIGKILL')
 * ```
 */
export async function exitsWithin(exited: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms)
  })
  try {
    return await Promise.race([exited.then(() => true as const), timeout])
  } finally {
    clearTimeout(timer)
  }
}
