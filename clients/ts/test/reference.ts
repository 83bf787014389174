/** scikit-learn reference results, computed by the test Python in one process per batch. */

import { runPython } from './helpers.js'

export interface Reference {
  centers: number[][]
  labels: number[] | null
  inertia: number
  n_iter: number
  n_steps: number
}

/** A dataset and the scikit-learn options to fit on it. */
export interface ReferenceCase {
  X: number[][]
  options: Record<string, unknown>
  float32?: boolean
  sparse?: boolean
  sample_weight?: number[]
}

const SCRIPT = String.raw`
import contextlib, json, sys, warnings
import numpy as np
import scipy.sparse as sp
from sklearn.cluster import MiniBatchKMeans

out = []
for case in json.load(sys.stdin):
    X = np.asarray(case["X"], dtype=np.float32 if case.get("float32") else np.float64)
    if case.get("sparse"):
        X = sp.csr_matrix(X)
    opts = dict(case["options"])
    if isinstance(opts.get("init"), list):
        opts["init"] = np.asarray(opts["init"], dtype=X.dtype)
    sw = case.get("sample_weight")
    with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
        warnings.simplefilter("ignore")
        m = MiniBatchKMeans(**opts).fit(X, sample_weight=None if sw is None else np.asarray(sw))
    labels = getattr(m, "labels_", None)
    out.append({
        "centers": m.cluster_centers_.astype(np.float64).tolist(),
        "labels": None if labels is None else labels.tolist(),
        "inertia": float(m.inertia_),
        "n_iter": int(m.n_iter_),
        "n_steps": int(m.n_steps_),
    })
print(json.dumps(out))
`

/** Fits scikit-learn's MiniBatchKMeans on every case, in one Python process. */
export function sklearnReference(cases: ReferenceCase[]): Reference[] {
  return runPython<Reference[]>(SCRIPT, cases)
}

/** Asserts |a - b| <= rtol * max(|a|, |b|) + atol elementwise. */
export function assertClose(actual: number[][] | number[], expected: number[][] | number[], rtol = 1e-6, atol = 1e-9, what = 'value'): void {
  const a = (actual as unknown[]).flat() as number[]
  const e = (expected as unknown[]).flat() as number[]
  if (a.length !== e.length) throw new Error(`${what}: length ${a.length} != ${e.length}`)
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number
    const y = e[i] as number
    if (!(Math.abs(x - y) <= rtol * Math.max(Math.abs(x), Math.abs(y)) + atol)) {
      throw new Error(`${what}[${i}]: ${x} != ${y} (rtol ${rtol})`)
    }
  }
}
