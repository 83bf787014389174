import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import * as sk from '../src/index.js'
import { errorFromWire } from '../src/wire-errors.js'

describe('errors', () => {
  // Public names and codes users catch by: they must not change (the contract test checks
  // that the set of server codes is exactly the contract's).
  const table: Array<[string, new (...args: never[]) => sk.SkbridgeError]> = [
    ['protocol_error', sk.ProtocolError],
    ['unsupported_version', sk.UnsupportedVersionError],
    ['unknown_op', sk.UnknownOpError],
    ['unknown_class', sk.UnknownClassError],
    ['duplicate_instance', sk.DuplicateInstanceError],
    ['unknown_instance', sk.UnknownInstanceError],
    ['unknown_method', sk.UnknownMethodError],
    ['unknown_attribute', sk.UnknownAttributeError],
    ['invalid_params', sk.InvalidParamsError],
    ['not_fitted', sk.NotFittedError],
    ['estimator_error', sk.EstimatorError],
    ['missing_dependency', sk.MissingDependencyError],
    ['internal', sk.InternalServerError],
  ]

  for (const [code, Ctor] of table) {
    it(`maps ${code} to ${Ctor.name}`, () => {
      const err = errorFromWire({ code, message: `boom ${code}` })
      assert.ok(err instanceof Ctor)
      assert.ok(err instanceof sk.ServerError)
      assert.ok(err instanceof sk.SkbridgeError)
      assert.ok(err instanceof Error)
      assert.equal(err.code, code)
      assert.equal(err.name, Ctor.name)
      assert.match(err.message, new RegExp(`boom ${code}`))
    })
  }

  it('invalid_params carries details and names the fields', () => {
    const err = errorFromWire({
      code: 'invalid_params',
      message: 'Invalid options for MiniBatchKMeans',
      details: [{ field: 'n_clusters', value: -1, message: 'Input should be greater than or equal to 1' }],
      traceback: 'Traceback...',
    })
    assert.ok(err instanceof sk.InvalidParamsError)
    assert.deepEqual(err.details, [{ field: 'n_clusters', value: -1, message: 'Input should be greater than or equal to 1' }])
    assert.match(err.message, /n_clusters/)
    assert.equal(err.traceback, 'Traceback...')
  })

  it('unknown codes stay visible', () => {
    const err = errorFromWire({ code: 'brand_new', message: 'x' })
    assert.ok(err instanceof sk.ServerError)
    assert.equal(err.code, 'brand_new')
    assert.ok(errorFromWire('garbage') instanceof sk.ProtocolError)
  })

  it('client-side errors carry their codes', () => {
    assert.equal(new sk.RequestTimeoutError('t').code, 'timeout')
    assert.equal(new sk.AbortedError('a').code, 'aborted')
    assert.equal(new sk.ServerExitedError('x', { exitCode: 1 }).exitCode, 1)
    assert.equal(new sk.ServerExitedError('x').code, 'server_exited')
    assert.equal(new sk.PythonNotFoundError('nope').code, 'python_not_found')
    assert.equal(new sk.BridgeModuleMissingError('m').code, 'bridge_module_missing')
    assert.ok(new sk.BridgeModuleMissingError('m') instanceof sk.ServerStartError)
    assert.equal(new sk.ServerStartError('s').code, 'server_start_failed')
    assert.equal(new sk.BridgeDisconnectedError().code, 'disconnected')
    assert.equal(new sk.NotInitializedError('n').code, 'not_initialized')
    assert.equal(new sk.AlreadyInitializedError('n').code, 'already_initialized')
    assert.equal(new sk.DisposedError('d').code, 'disposed')
    assert.equal(new sk.InvalidInputError('i', 'X').code, 'invalid_input')
  })
})
