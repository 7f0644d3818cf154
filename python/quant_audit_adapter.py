#!/usr/bin/env python3
"""quant-audit's Python adapter: serves a user's fake-quantizer over the exec protocol.

quant-audit starts it for `--target "python:PATH.py:FUNCTION"` (or `python:package.module:FUNCTION`)
as `PYTHON quant_audit_adapter.py --target SPEC [--api auto|torch|numpy] [--formats a,b]`
and speaks newline-delimited JSON-RPC 2.0 with it on stdin/stdout (docs/exec-protocol.md,
docs/python.md). Standard library only: torch and NumPy are imported only because the
user's module uses them.

FUNCTION is one of
  fake_quant(x, fmt) -> tensor          x: torch.Tensor (float32) or np.ndarray (float32)
  make_quantizer(fmt) -> nn.Module      or any callable q(x); called again for every request,
                                        so observers start fresh and see only that tensor
  an nn.Module instance                 deep-copied for every request, for the same reason
and the module may define FORMATS (or formats()), fake_quant_grad(x, dy, fmt) (NumPy),
update(w, delta, steps, fmt) or train_step(param, grad, fmt).

Errors in the user's code never end the adapter: each becomes a JSON-RPC error whose
message carries the last lines of the Python traceback. The user's prints cannot corrupt
the protocol: file descriptor 1 is pointed at stderr before the module is imported, and the
protocol uses a private duplicate of the original stdout.
"""
import argparse
import base64
import copy
import ctypes
import importlib
import importlib.util
import inspect
import json
import os
import sys
import traceback

ADAPTER_VERSION = "1"

# JSON-RPC error codes (docs/exec-protocol.md): -32602 bad params / unknown format,
# -32000 the user's code failed or returned something unusable, -32001 the module did not load.
BAD_PARAMS = -32602
USER_ERROR = -32000
LOAD_ERROR = -32001
TRACEBACK_LINES = 6


class RpcError(Exception):
    def __init__(self, code, message, data=None):
        super().__init__(message)
        self.code = code
        self.data = data


# ---- protocol streams ---------------------------------------------------------------------

def claim_stdio():
    """Keep private duplicates of stdin/stdout for the protocol; give the user's code
    /dev/null as stdin and stderr as stdout (print() and C-level writes alike)."""
    enlarge_pipe(0)
    enlarge_pipe(1)
    proto_in = os.fdopen(os.dup(0), "rb", buffering=1 << 20)
    proto_out = os.fdopen(os.dup(1), "wb", buffering=1 << 16)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    sys.stdin = open(os.devnull, "r")
    sys.stdout = sys.stderr
    return proto_in, proto_out


def enlarge_pipe(fd):
    """A 4 MB tensor crosses a 64 KiB pipe in 64 hand-overs between the two processes, each a
    wake-up that waits for a core on a busy machine; a 1 MiB pipe needs 4. Linux only, best effort."""
    try:
        import fcntl
        size = 1 << 20
        try:
            with open("/proc/sys/fs/pipe-max-size") as f:
                size = min(size, int(f.read()))
        except (OSError, ValueError):
            pass
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), size)
    except (ImportError, OSError):
        pass  # not a pipe, not Linux, or over the user's pipe quota: the default size works too


def read_exactly(stream, n):
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = stream.readinto(view[got:])
        if not k:
            return None
        got += k
    return buf


# ---- loading the user's module ------------------------------------------------------------

def split_target(spec):
    """'path/to/q.py:fake_quant' | 'pkg.mod:make_quantizer' | 'q.py' -> (module part, function)."""
    head, sep, tail = spec.rpartition(":")
    if sep and tail.isidentifier():
        return head, tail
    return spec, "fake_quant"


def load_module(module_part):
    if module_part.endswith(".py") or os.sep in module_part or "/" in module_part:
        path = os.path.abspath(module_part)
        name = os.path.splitext(os.path.basename(path))[0]
        # Siblings of the file import as they would when it runs as a script.
        sys.path.insert(0, os.path.dirname(path))
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise RpcError(LOAD_ERROR, f"cannot load {path} as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    sys.path.insert(0, os.getcwd())
    return importlib.import_module(module_part)


def traceback_tail(exc, lines=TRACEBACK_LINES):
    """The last lines of the traceback, without the adapter's and importlib's frames, joined by ' ⏎ '."""
    here = os.path.abspath(__file__)
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith("<frozen") and os.path.abspath(f.filename) != here]
    text = "".join(traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc))
    # Python 3.11+ underlines the failing expression with ^ and ~: noise in a one-line message.
    text = [line.strip() for line in text.splitlines() if line.strip() and line.strip().strip("^~") != ""]
    return " ⏎ ".join(text[-lines:])


def library_version(name):
    module = sys.modules.get(name)
    if module is None:
        try:
            module = importlib.import_module(name)
        except Exception:
            return None
    return str(getattr(module, "__version__", "unknown"))


def uses(namespace, library):
    """Does a module namespace reference `library` (the module itself or anything defined in it)?"""
    for value in list(namespace.values()):
        if inspect.ismodule(value):
            if value.__name__ == library or value.__name__.startswith(library + "."):
                return True
            continue
        owner = getattr(value, "__module__", None)
        if isinstance(owner, str) and (owner == library or owner.startswith(library + ".")):
            return True
    return False


class Quantizer:
    """The user's module and function, the API (torch or numpy) and the formats, resolved once."""

    def __init__(self, target, api, fallback_formats):
        self.target = target
        self.module_part, self.function_name = split_target(target)
        try:
            self.module = load_module(self.module_part)
        except RpcError:
            raise
        except BaseException as e:  # ImportError, SyntaxError, SystemExit at import, anything
            data = {"traceback": traceback_tail(e)}
            if isinstance(e, ModuleNotFoundError) and e.name:
                data["missingModule"] = e.name.split(".")[0]
            raise RpcError(LOAD_ERROR, f"importing {self.module_part} failed: {type(e).__name__}: {e}", data)
        if not hasattr(self.module, self.function_name):
            callables = sorted(n for n, v in vars(self.module).items() if callable(v) and not n.startswith("_") and getattr(v, "__module__", None) == self.module.__name__)
            raise RpcError(LOAD_ERROR, f"{self.module_part} has no '{self.function_name}'"
                           + (f"; it defines {', '.join(callables)}" if callables else ""))
        self.obj = getattr(self.module, self.function_name)
        self.kind = self.classify(self.obj)
        self.api = self.choose_api(api)
        self.torch = importlib.import_module("torch") if self.api == "torch" else None
        try:
            self.np = importlib.import_module("numpy")
        except ImportError:
            if self.api == "numpy":
                raise RpcError(LOAD_ERROR, "--python-api numpy, but this interpreter cannot import numpy", {"missingModule": "numpy"})
            self.np = None
        self.formats = self.declared_formats(fallback_formats)
        self.grad_fn = getattr(self.module, "fake_quant_grad", None)
        self.update_fn = getattr(self.module, "update", None)
        self.train_step_fn = getattr(self.module, "train_step", None)
        for name in ("fake_quant_grad", "update", "train_step"):
            value = getattr(self.module, name, None)
            if value is not None and not callable(value):
                raise RpcError(LOAD_ERROR, f"{self.module_part}: '{name}' is not a function")

    # -- what the named object is

    @staticmethod
    def classify(obj):
        torch = sys.modules.get("torch")  # only when the user's code imported it
        if torch is not None and isinstance(obj, torch.nn.Module):
            return "module"
        if not callable(obj):
            raise RpcError(LOAD_ERROR, f"'{type(obj).__name__}' object is not callable: name a function fake_quant(x, fmt), a factory make_quantizer(fmt) or an nn.Module")
        try:
            params = [p for p in inspect.signature(obj).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            return "function"  # builtins without a signature: assume fake_quant(x, fmt)
        if len(params) >= 2:
            return "function"
        return "factory"

    def choose_api(self, api):
        if self.kind in ("module", "factory") and api in ("auto", "torch"):
            return "torch"
        if api != "auto":
            if importlib.util.find_spec(api) is None:
                raise RpcError(LOAD_ERROR, f"--python-api {api}, but this interpreter cannot import {api}", {"missingModule": api})
            return api
        namespaces = [vars(self.module)]
        code_globals = getattr(self.obj, "__globals__", None)
        if isinstance(code_globals, dict) and code_globals is not vars(self.module):
            namespaces.append(code_globals)
        if any(uses(ns, "torch") for ns in namespaces):
            return "torch"
        if any(uses(ns, "numpy") for ns in namespaces):
            return "numpy"
        if "torch" in sys.modules:
            return "torch"
        if importlib.util.find_spec("numpy") is not None:
            return "numpy"
        if importlib.util.find_spec("torch") is not None:
            return "torch"
        raise RpcError(LOAD_ERROR, "this interpreter can import neither torch nor numpy; the adapter hands tensors to your function as one of them",
                       {"missingModule": "numpy"})

    def declared_formats(self, fallback):
        declared = getattr(self.module, "FORMATS", None)
        how = "FORMATS"
        if declared is None and callable(getattr(self.module, "formats", None)):
            how = "formats()"
            try:
                declared = self.module.formats()
            except BaseException as e:
                raise RpcError(LOAD_ERROR, f"formats() raised {type(e).__name__}: {e}", {"traceback": traceback_tail(e)})
        if declared is None:
            return fallback or None
        if isinstance(declared, str) or not all(isinstance(f, str) and f for f in declared):
            raise RpcError(LOAD_ERROR, f"{how} must be a list of format names such as ['int8', 'int4'], got {declared!r:.100}")
        declared = list(dict.fromkeys(declared))
        if not declared:
            raise RpcError(LOAD_ERROR, f"{how} is empty")
        return declared

    def capabilities(self):
        caps = ["forward"]
        if self.api == "torch" or self.grad_fn is not None:
            caps.append("gradient")
        if self.update_fn is not None or self.train_step_fn is not None:
            caps.append("update")
        return caps

    # -- calling it

    def check_format(self, fmt):
        if not isinstance(fmt, str):
            raise RpcError(BAD_PARAMS, f"format must be a string, got {fmt!r}")
        if self.formats is not None and fmt not in self.formats:
            raise RpcError(BAD_PARAMS, f"unknown format '{fmt}'; {self.module_part} implements {', '.join(self.formats)}")

    def quantizer_for(self, fmt):
        """A callable q(x) for one request."""
        if self.kind == "function":
            return lambda x: self.obj(x, fmt), f"{self.function_name}(x, {fmt!r})"
        if self.kind == "module":
            module = copy.deepcopy(self.obj)
            return module, f"{self.function_name}(x) (a deep copy of the module)"
        what = f"{self.function_name}({fmt!r})"
        try:
            made = self.obj(fmt)
        except BaseException as e:
            raise user_error(f"{what} raised", e)
        if not callable(made):
            raise RpcError(USER_ERROR, f"{what} returned {type(made).__name__}, not an nn.Module or a callable q(x)")
        return made, f"{what}(x)"

    def call(self, q, what, *args):
        try:
            return q(*args)
        except BaseException as e:
            raise user_error(f"{what} raised", e)


def user_error(what, e):
    if isinstance(e, (KeyboardInterrupt,)):
        raise e
    print(f"quant-audit adapter: {what}:", file=sys.stderr)
    traceback.print_exception(type(e), e, e.__traceback__, file=sys.stderr)
    return RpcError(USER_ERROR, f"{what} {type(e).__name__}: {e} — traceback: {traceback_tail(e)}")


# ---- tensors ------------------------------------------------------------------------------

class Tensors:
    """Bytes <-> the API's arrays, and the checks on what the user's code returns."""

    def __init__(self, q):
        self.q = q
        self.torch = q.torch
        self.np = q.np

    def make(self, buf, offset, count, shape):
        """A float32 tensor of `shape` over buf[offset: offset + 4 count] (buf is writable and ours)."""
        if self.torch is not None:
            t = self.torch.frombuffer(buf, dtype=self.torch.float32, count=count, offset=offset) if count else self.torch.zeros(0)
            return t.reshape(shape)
        return self.np.frombuffer(buf, dtype="<f4", count=count, offset=offset).reshape(shape)

    def zeros_like(self, x):
        return self.torch.zeros_like(x) if self.torch is not None else self.np.zeros_like(x)

    def describe(self, value):
        if isinstance(value, (list, tuple)):
            inner = ", ".join(type(v).__name__ for v in value[:4])
            return f"a {type(value).__name__} of {len(value)} ({inner}{', …' if len(value) > 4 else ''})"
        return type(value).__name__

    def output(self, y, shape, what):
        """Check the user's result and return it as a contiguous float32 array/tensor (no grad)."""
        if y is None:
            raise RpcError(USER_ERROR, f"{what} returned None; return the fake-quantized tensor (a function that changes x in place must still return it)")
        if isinstance(y, tuple):
            raise RpcError(USER_ERROR, f"{what} returned {self.describe(y)}; return only the fake-quantized tensor (drop scale / zero-point from the return value)")
        if isinstance(y, list):
            raise RpcError(USER_ERROR, f"{what} returned a Python list; return a {'torch.Tensor' if self.torch is not None else 'numpy.ndarray'} of float32")
        torch, np = self.torch, self.np
        if torch is not None and isinstance(y, torch.Tensor):
            if y.is_quantized:
                raise RpcError(USER_ERROR, f"{what} returned a quantized tensor ({y.dtype}); a fake-quant returns the float values the model computes with: call .dequantize()")
            y = y.detach()
            if y.device.type != "cpu":
                y = y.cpu()
            y = self.convert_dtype(y, str(y.dtype).replace("torch.", ""), what)
            got = tuple(y.shape)
        elif np is not None and isinstance(y, np.ndarray):
            y = self.convert_dtype(y, str(y.dtype), what)
            got = tuple(y.shape)
        else:
            expected = "torch.Tensor" if torch is not None else "numpy.ndarray"
            raise RpcError(USER_ERROR, f"{what} returned {self.describe(y)}, not a {expected}")
        if got != tuple(shape):
            raise RpcError(USER_ERROR, f"{what} returned shape {list(got)} for an input of shape {list(shape)}; a fake-quant keeps the shape")
        return y

    def convert_dtype(self, y, dtype, what):
        """float32 as it is; types float32 holds exactly (half floats, integer codes) converted;
        anything else (float64, complex, bool) refused."""
        is_torch = self.torch is not None and isinstance(y, self.torch.Tensor)
        if dtype == "float32":
            return y
        if dtype in ("float16", "bfloat16", "int8", "uint8", "int16", "uint16", "int32", "int64", "uint32", "uint64"):
            if dtype in ("int32", "int64", "uint32", "uint64") and (y.numel() if is_torch else y.size) > 0:
                big = max(abs(int(y.max())), abs(int(y.min())))
                if big > 2 ** 24:
                    raise RpcError(USER_ERROR, f"{what} returned {dtype} values up to {big}, which float32 cannot hold exactly; return float32")
            return y.float() if is_torch else y.astype("<f4")
        raise RpcError(USER_ERROR, f"{what} returned {dtype}; return float32 like the input (casting {dtype} to float32 here would round your values a second time)")

    def to_bytes(self, y):
        """Little-endian float32 bytes of a checked output (a memoryview or bytes, no extra copy where possible)."""
        if (y.numel() if self.torch is not None and isinstance(y, self.torch.Tensor) else y.size) == 0:
            return b""
        if self.torch is not None and isinstance(y, self.torch.Tensor):
            y = y.contiguous()
            if self.np is not None:
                return memoryview(y.numpy()).cast("B")
            return ctypes.string_at(y.data_ptr(), y.numel() * 4)
        return memoryview(self.np.ascontiguousarray(y, dtype="<f4")).cast("B")


# ---- methods ------------------------------------------------------------------------------

class Adapter:
    def __init__(self, args):
        self.args = args
        self.q = None
        self.tensors = None

    def loaded(self):
        if self.q is None:
            raise RpcError(BAD_PARAMS, "describe must come first")
        return self.q

    def describe(self, _params, _inputs):
        if self.q is None:
            fallback = [f for f in self.args.formats.split(",") if f] if self.args.formats else None
            self.q = Quantizer(self.args.target, self.args.api, fallback)
            self.tensors = Tensors(self.q)
        q = self.q
        info = {
            "executable": sys.executable,
            "version": sys.version.split()[0],
            "implementation": sys.implementation.name,
            "api": q.api,
            "kind": q.kind,
            "adapter": ADAPTER_VERSION,
        }
        for lib in ("torch", "numpy"):
            v = library_version(lib) if lib in sys.modules else None
            if v:
                info[lib] = v
        return {
            "formats": q.formats,
            "capabilities": q.capabilities(),
            "name": f"python:{self.args.target}",
            "version": f"Python {info['version']}",
            "tensors": "binary",
            "python": info,
        }

    def forward(self, params, inputs):
        q = self.loaded()
        fmt = params.get("format")
        q.check_format(fmt)
        x = inputs("x")
        fn, what = q.quantizer_for(fmt)
        y = q.call(fn, what, x)
        return {"y": self.tensors.output(y, x.shape, what)}

    def gradient(self, params, inputs):
        q = self.loaded()
        fmt = params.get("format")
        q.check_format(fmt)
        x = inputs("x")
        dy = inputs("dy")
        if q.api == "numpy":
            if q.grad_fn is None:
                raise RpcError(BAD_PARAMS, "this NumPy quantizer has no gradient: define fake_quant_grad(x, dy, fmt) in the module")
            what = f"fake_quant_grad(x, dy, {fmt!r})"
            return {"dx": self.tensors.output(q.call(q.grad_fn, what, x, dy, fmt), x.shape, what)}
        torch = q.torch
        fn, what = q.quantizer_for(fmt)
        x.requires_grad_(True)
        with torch.enable_grad():
            y = q.call(fn, what, x)
            self.tensors.output(y, x.shape, what)  # the same checks as forward
            if not (isinstance(y, torch.Tensor) and y.requires_grad):
                # No autograd path from x to y (detached, no_grad, .int_repr(), a NumPy round trip):
                # training gets no gradient through this quantizer at all.
                return {"dx": torch.zeros_like(x, requires_grad=False), "note": "the output does not depend on x through autograd: gradient 0"}
            try:
                (dx,) = torch.autograd.grad(y.float() if y.dtype != torch.float32 else y, x, grad_outputs=dy, allow_unused=True)
            except BaseException as e:
                raise user_error(f"torch.autograd.grad through {what}", e)
        if dx is None:
            return {"dx": torch.zeros_like(x, requires_grad=False), "note": "x is unused in the autograd graph of the output: gradient 0"}
        return {"dx": self.tensors.output(dx, x.shape, f"the gradient of {what}")}

    def update(self, params, inputs):
        q = self.loaded()
        fmt = params.get("format")
        q.check_format(fmt)
        steps = params.get("steps")
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
            raise RpcError(BAD_PARAMS, f"steps must be a positive integer, got {steps!r}")
        w = inputs("w")
        delta = inputs("delta")
        if q.update_fn is not None:
            what = f"update(w, delta, {steps}, {fmt!r})"
            return {"w": self.tensors.output(q.call(q.update_fn, what, w, delta, steps, fmt), w.shape, what)}
        if q.train_step_fn is None:
            raise RpcError(BAD_PARAMS, "the module defines neither update(w, delta, steps, fmt) nor train_step(param, grad, fmt)")
        # train_step(param, grad, fmt): one step param <- param - grad your way (the learning rate is
        # folded into grad), in place or returning the new parameter; the model then uses fq(param).
        torch = q.torch
        grad = -delta
        param = torch.nn.Parameter(w.clone()) if torch is not None else w.copy()
        what = f"train_step(param, grad, {fmt!r})"
        for _ in range(steps):
            if torch is not None:
                param.grad = grad.clone()
            result = q.call(q.train_step_fn, what, param, grad, fmt)
            if result is not None:
                checked = self.tensors.output(result, w.shape, what)
                param = torch.nn.Parameter(checked.clone()) if torch is not None else checked.copy()
        stored = param.detach() if torch is not None else param
        fn, fq_what = q.quantizer_for(fmt)
        return {"w": self.tensors.output(q.call(fn, fq_what, stored.clone() if torch is not None else stored.copy()), w.shape, fq_what)}


# ---- the loop -----------------------------------------------------------------------------

def decode_inputs(params, payload, adapter):
    """inputs(name) -> the API's tensor for params[name] (base64 text, or a binary frame descriptor)."""
    shape = params.get("shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise RpcError(BAD_PARAMS, f"shape must be a list of non-negative integers, got {shape!r:.80}")
    count = 1
    for d in shape:
        count *= d

    def inputs(name):
        value = params.get(name)
        if isinstance(value, dict):
            offset, nbytes = value.get("offset"), value.get("bytes")
            if payload is None or not isinstance(offset, int) or not isinstance(nbytes, int) or offset < 0 or offset + nbytes > len(payload):
                raise RpcError(BAD_PARAMS, f"{name}: bad binary tensor descriptor {value!r:.80}")
            if nbytes != 4 * count:
                raise RpcError(BAD_PARAMS, f"{name} has {nbytes // 4} values, shape says {count}")
            return adapter.tensors.make(payload, offset, count, shape)
        if isinstance(value, str):
            raw = bytearray(base64.b64decode(value, validate=True))
            if len(raw) != 4 * count:
                raise RpcError(BAD_PARAMS, f"{name} has {len(raw) // 4} values, shape says {count}")
            return adapter.tensors.make(raw, 0, count, shape)
        raise RpcError(BAD_PARAMS, f"{name} is missing or not a tensor")

    return inputs


class Writer:
    def __init__(self, out):
        self.out = out

    def reply(self, rid, result=None, error=None, binary=False, tensors=None):
        message = {"jsonrpc": "2.0", "id": rid}
        if error is not None:
            message["error"] = error
            self.line(message)
            return
        chunks = []
        if tensors:
            result = dict(result)
            offset = 0
            for name, data in tensors.items():
                if binary:
                    result[name] = {"offset": offset, "bytes": len(data)}
                    chunks.append(data)
                    offset += len(data)
                else:
                    result[name] = base64.b64encode(data).decode("ascii")
            if binary:
                message["binary"] = offset
        message["result"] = result
        self.line(message, chunks)

    def line(self, message, chunks=()):
        self.out.write(json.dumps(message, allow_nan=False, separators=(",", ":")).encode("utf-8") + b"\n")
        for chunk in chunks:
            self.out.write(chunk)
        self.out.flush()


def main():
    parser = argparse.ArgumentParser(description="quant-audit Python adapter (started by quant-audit)")
    parser.add_argument("--target", required=True, help="PATH.py:FUNCTION or package.module:FUNCTION")
    parser.add_argument("--api", choices=("auto", "torch", "numpy"), default="auto")
    parser.add_argument("--formats", default="", help="comma-separated formats when the module declares none")
    args = parser.parse_args()
    if sys.byteorder != "little":
        print("quant-audit adapter: big-endian hosts are not supported", file=sys.stderr)
        return 2
    proto_in, proto_out = claim_stdio()
    writer = Writer(proto_out)
    adapter = Adapter(args)
    methods = {"describe": adapter.describe, "forward": adapter.forward, "gradient": adapter.gradient, "update": adapter.update}
    while True:
        line = proto_in.readline()
        if not line:
            return 0  # quant-audit is gone
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except ValueError as e:
            writer.reply(None, error={"code": -32700, "message": f"parse error: {e}"})
            continue
        payload = None
        binary = isinstance(request, dict) and isinstance(request.get("binary"), int)
        if binary:
            payload = read_exactly(proto_in, request["binary"])
            if payload is None:
                return 0
        if not isinstance(request, dict):
            writer.reply(None, error={"code": -32600, "message": "a request is a JSON object"})
            continue
        rid = request.get("id")
        method = request.get("method")
        if method == "shutdown":
            writer.reply(rid, result=None)
            return 0
        handler = methods.get(method)
        try:
            if handler is None:
                raise RpcError(-32601, f"method {method!r} is not implemented by the quant-audit Python adapter")
            params = request.get("params") or {}
            inputs = decode_inputs(params, payload, adapter) if method != "describe" else None
            result = handler(params, inputs)
            tensors = {k: adapter.tensors.to_bytes(v) for k, v in result.items() if k in ("y", "dx", "w")} if method != "describe" else None
            plain = {k: v for k, v in result.items() if not tensors or k not in tensors}
            writer.reply(rid, result=plain, binary=binary, tensors=tensors)
        except RpcError as e:
            error = {"code": e.code, "message": str(e)}
            if e.data is not None:
                error["data"] = e.data
            writer.reply(rid, error=error)
        except Exception as e:  # a bug in the adapter itself: report it, keep serving
            traceback.print_exc(file=sys.stderr)
            writer.reply(rid, error={"code": -32603, "message": f"quant-audit adapter error: {type(e).__name__}: {e}"})


if __name__ == "__main__":
    sys.exit(main())
