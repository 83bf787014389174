"""Running one operation on one estimator: validation, the call, and result shaping.

Everything here runs in a worker thread (or inline for an idle ``get``) and only touches
the slot it is given. Method and attribute names reach ``getattr`` only after they were
found in the class's contract.
"""

from __future__ import annotations

import importlib.util
import logging
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np
import sklearn
from sklearn.exceptions import NotFittedError

from bridge.errors import (
    BridgeError,
    EstimatorError,
    InternalError,
    MissingDependency,
    NotFitted,
)
from bridge.frames import Decoder, Encoder
from bridge.protocol import PLAIN_TYPES, failure, pack_header, success
from bridge.quoting import clip
from bridge.registry import Remote, Slot
from bridge.validation import validate
from schemas import ClassContract, MethodContract

__all__ = [
    "call_method",
    "decode_options",
    "internal_error",
    "read_attribute",
    "replying",
    "translate",
]

# Longest message passed on from an exception; scikit-learn's messages can quote input
# (feature names, values), which a hostile client can make arbitrarily large.
MAX_MESSAGE = 2000

log = logging.getLogger("skbridge.dispatch")

# The metadata-routing methods scikit-learn knows; used to render get_metadata_routing.
_ROUTED_METHODS = (
    "fit",
    "partial_fit",
    "predict",
    "predict_proba",
    "predict_log_proba",
    "decision_function",
    "score",
    "split",
    "transform",
    "inverse_transform",
)
_SET_REQUEST = frozenset({"set_fit_request", "set_partial_fit_request", "set_score_request"})


def decode_options(
    contract: ClassContract, options: dict[str, Any], buffers: list[Any]
) -> dict[str, Any]:
    """Constructor keyword arguments from a wire ``options`` map."""
    decoder = Decoder(buffers, accept_tables=False)
    decoded = decoder.decode(options)
    decoder.check_all_used()
    return validate(contract.options, decoded, noun="option", where=contract.name)


def internal_error(exc: BaseException, *, debug: bool) -> InternalError:
    """The reply for an exception nothing expected: a server bug, logged here."""
    log.error("internal error", exc_info=exc)
    error = InternalError(clip(f"internal error: {type(exc).__name__}: {exc}", MAX_MESSAGE))
    if debug:
        error.traceback = "".join(traceback.format_exception(exc))
    return error


def translate(exc: BaseException, *, debug: bool) -> BridgeError:
    """Map an exception from validation or the estimator to a wire error."""
    if isinstance(exc, BridgeError):
        error = exc
    elif isinstance(exc, NotFittedError):  # before ValueError: it subclasses it
        error = NotFitted(clip(str(exc), MAX_MESSAGE))
    elif isinstance(exc, ImportError):
        error = MissingDependency(clip(str(exc), MAX_MESSAGE))
    elif isinstance(exc, (ValueError, TypeError)):
        error = EstimatorError(clip(str(exc), MAX_MESSAGE))
    else:
        return internal_error(exc, debug=debug)
    if debug and error.traceback is None:
        error.traceback = "".join(traceback.format_exception(exc))
    return error


def replying(
    rid: int,
    work: Callable[[], Any],
    *,
    debug: bool,
    pack: Callable[[dict[str, Any]], bytes] = pack_header,
) -> Callable[[], list[Any]]:
    """Wrap ``work`` so it always yields reply frames, success or error.

    ``pack`` must be safe on the thread that calls the result (the default is).
    """

    def run() -> list[Any]:
        try:
            value = work()
            if type(value) in PLAIN_TYPES:  # most attributes: nothing for the Encoder to do
                return [pack(success(rid, value))]
            encoder = Encoder(tables=True)
            result = encoder.encode(value)
            return [pack(success(rid, result)), *encoder.buffers]
        except Exception as exc:
            error = translate(exc, debug=debug)
            try:
                reply = [pack(failure(rid, error.to_wire(debug=debug)))]
            except Exception as unpackable:  # every request gets a reply, whatever
                bug = internal_error(unpackable, debug=debug)
                reply = [pack(failure(rid, bug.to_wire(debug=debug)))]
            # error -> traceback -> this frame -> error is a cycle that would keep the
            # request's (possibly huge) arrays alive until the garbage collector runs.
            del error
            return reply

    return run


def _shares_state(estimator: Any, array: np.ndarray) -> bool:
    state = dict(vars(estimator))
    return any(isinstance(v, np.ndarray) and np.may_share_memory(v, array) for v in state.values())


def _owned(estimator: Any, value: Any) -> Any:
    """A result safe to send without copying.

    Frames are sent zero-copy and ZeroMQ reads them after we return, so an array that is
    also estimator state (fit_predict returns labels_; partial_fit updates centers in
    place) must be copied, or a later call could change it mid-send.
    """
    if isinstance(value, np.ndarray) and _shares_state(estimator, value):
        return value.copy()
    return value


def _routing_map(routing: Any) -> dict[str, Any]:
    """The public request maps of a MetadataRequest, keeping only methods that have any."""
    out: dict[str, Any] = {}
    for method in _ROUTED_METHODS:
        requests = getattr(getattr(routing, method, None), "requests", None)
        if requests:
            out[method] = dict(requests)
    return out


def _check_output_library(params: dict[str, Any]) -> None:
    library = params.get("transform")
    if library in ("pandas", "polars") and importlib.util.find_spec(library) is None:
        raise MissingDependency(
            f"set_output(transform={library!r}) needs {library}, which is not installed "
            "on the server"
        )


def call_method(
    slot: Slot,
    method: str,
    spec: MethodContract,
    params: dict[str, Any],
    buffers: list[Any],
    *,
    before: Callable[[dict[str, Any]], None] | None = None,
    resolve: Callable[[Any], Any] | None = None,
) -> Any:
    """Run ``method`` (found in the slot's contract as ``spec``) on the slot's estimator;
    return a value ready for the Encoder. ``before(kwargs)`` runs after validation and
    before the estimator (limits are checked there); ``resolve`` looks up datasets."""
    contract = slot.contract
    decoder = Decoder(buffers, accept_tables=False, resolve=resolve)
    decoded = decoder.decode(params)
    decoder.check_all_used()
    kwargs = validate(spec.params, decoded, noun="parameter", where=f"{contract.name}.{method}")
    if before is not None:
        before(kwargs)
    if method == "set_output":
        _check_output_library(kwargs)
    if method == "get_metadata_routing":
        # The contract keeps scikit-learn-ts's `routing` (null only); sklearn takes none.
        kwargs.pop("routing", None)
    bound = getattr(slot.estimator, method)  # a contract method: checked by the caller
    try:
        if method in _SET_REQUEST:
            # scikit-learn only allows these with routing enabled; config is thread-local.
            with sklearn.config_context(enable_metadata_routing=True):
                result = bound(**kwargs)
        else:
            result = bound(**kwargs)
    except AttributeError as exc:
        if exc.obj is slot.estimator and str(exc.name).endswith("_"):
            # A fit that failed after setting n_features_in_ leaves the estimator looking
            # fitted to check_is_fitted (as in scikit-learn); its fitted state is missing.
            raise NotFitted(
                f"instance {slot.instance_id!r} has no fitted {exc.name!r}: its last fit "
                f"did not complete; fit it again before calling {method}"
            ) from None
        raise
    if spec.returns == "self":
        return {"instance": slot.instance_id}
    if method == "get_metadata_routing":
        return _routing_map(result)
    return _owned(slot.estimator, result)


def read_attribute(slot: Slot, attribute: str) -> Any:
    """The value of a contract attribute (checked by the caller), copied off the estimator."""
    if isinstance(slot.estimator, Remote):
        return slot.estimator.read(attribute)
    try:
        value = getattr(slot.estimator, attribute)  # a contract attribute
    except AttributeError:
        raise NotFitted(
            f"attribute {attribute!r} of instance {slot.instance_id!r} is not set; it "
            "exists only after fitting (labels_ needs compute_labels=True, "
            "feature_names_in_ needs X with string column names)"
        ) from None
    # Attributes stay estimator state, which later calls may update in place.
    return value.copy() if isinstance(value, np.ndarray) else value
