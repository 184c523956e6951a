"""Run a model compiled by `snnc compile --emit lib` from Python: ctypes + numpy.

    from snnc_artifact import Artifact
    with Artifact("out/libvgg16_cifar10.so") as m:
        x = m.preprocess(images_uint8)          # [n, C, H, W] uint8 -> float32, as snnc eval
        scores = m.run(x)                       # [n, classes] float32, any n
        m.reset(); s = m.step(x[:m.batch])      # spiking artifacts: one time step

The shared library is all it loads (no snnc, LLVM or libyaml); NAME comes from the file
name (libNAME.so) unless given. Errors raise ArtifactError with the library's message and
code (the NAME_ERR_* values of NAME.h). A context is used by one thread at a time; make one
Artifact per thread to run in parallel.

Usage from the shell: python3 snnc_artifact.py out/libNAME.so   (prints the model's sizes)
"""
import ctypes
import os
import sys

import numpy as np

__all__ = ["Artifact", "ArtifactError"]


class ArtifactError(RuntimeError):
    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


class _Options(ctypes.Structure):
    _fields_ = [("threads", ctypes.c_int),
                ("weights_path", ctypes.c_char_p),
                ("variant", ctypes.c_char_p)]


class _Info(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p)] + [
        (f, ctypes.c_int64) for f in
        ("batch", "channels", "height", "width", "classes", "time_steps", "streaming",
         "image_floats", "input_floats", "output_floats", "variants", "weights_embedded",
         "weight_bytes")]


_FLOATS = np.ctypeslib.ndpointer(dtype=np.float32, flags="C_CONTIGUOUS")
_BYTES = np.ctypeslib.ndpointer(dtype=np.uint8, flags="C_CONTIGUOUS")


class Artifact:
    def __init__(self, library, name=None, threads=0, weights=None, variant=None):
        library = os.path.abspath(library)
        if name is None:
            base = os.path.basename(library)
            if not (base.startswith("lib") and base.endswith(".so")):
                raise ValueError(f"{library}: expected libNAME.so (or pass name=)")
            name = base[3:-3]
        self.name = name
        self._lib = ctypes.CDLL(library)
        self._ctx = None
        f = self._fn
        f("get_info", ctypes.c_int, [ctypes.POINTER(_Info)])
        f("create", ctypes.c_int, [ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(_Options),
                                   ctypes.c_char_p, ctypes.c_size_t])
        f("free", None, [ctypes.c_void_p])
        for op in ("run", "step"):
            f(op, ctypes.c_int, [ctypes.c_void_p, _FLOATS, ctypes.c_size_t, _FLOATS,
                                 ctypes.c_size_t])
        f("reset", ctypes.c_int, [ctypes.c_void_p])
        f("set_seed", ctypes.c_int, [ctypes.c_void_p, ctypes.c_uint64])
        f("batch_seed", ctypes.c_uint64, [ctypes.c_uint64, ctypes.c_uint64])
        f("preprocess", ctypes.c_int, [ctypes.c_void_p, _BYTES, ctypes.c_size_t,
                                       ctypes.c_size_t, ctypes.c_size_t, ctypes.c_size_t,
                                       _FLOATS, ctypes.c_size_t])
        f("error", ctypes.c_char_p, [ctypes.c_void_p])
        f("variant", ctypes.c_char_p, [ctypes.c_void_p])
        info = _Info()
        rc = self._c.get_info(ctypes.byref(info))
        if rc:
            raise ArtifactError(f"{library}: get_info failed (code {rc})", rc)
        self.info = {k: getattr(info, k) for k, _ in _Info._fields_}
        self.info["name"] = info.name.decode()
        opts = _Options(threads, weights.encode() if weights else None,
                        variant.encode() if variant else None)
        err = ctypes.create_string_buffer(2048)
        ctx = ctypes.c_void_p()
        rc = self._c.create(ctypes.byref(ctx), ctypes.byref(opts), err, len(err))
        if rc:
            raise ArtifactError(err.value.decode(errors="replace"), rc)
        self._ctx = ctx

    def _fn(self, suffix, restype, argtypes):
        fn = getattr(self._lib, f"{self.name}_{suffix}")
        fn.restype = restype
        fn.argtypes = argtypes
        if not hasattr(self, "_c"):
            self._c = type("fns", (), {})()
        setattr(self._c, suffix, fn)

    # sizes
    batch = property(lambda self: self.info["batch"])
    classes = property(lambda self: self.info["classes"])
    time_steps = property(lambda self: self.info["time_steps"])
    streaming = property(lambda self: bool(self.info["streaming"]))
    input_shape = property(lambda self: (self.info["channels"], self.info["height"],
                                         self.info["width"]))

    @property
    def variant(self):
        return self._c.variant(self._live()).decode()

    def _live(self):
        if self._ctx is None:
            raise ArtifactError(f"{self.name}: the context is closed", 7)
        return self._ctx

    def _check(self, rc):
        if rc:
            raise ArtifactError(self._c.error(self._ctx).decode(errors="replace"), rc)

    def _images(self, x):
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.shape == self.input_shape:
            x = x[None]
        if x.ndim != 4 or x.shape[1:] != self.input_shape or x.shape[0] == 0:
            raise ValueError(f"{self.name}: input of shape {x.shape}; the model takes "
                             f"[n, {', '.join(map(str, self.input_shape))}] float32")
        return x

    def run(self, x, seed=None):
        """Scores [n, classes] of images x [n, C, H, W] (any n: run in batches of `batch`).
        With seed, batch i uses the seed 'snnc eval --seed SEED' gives it (Poisson
        encoders); else the context's seed (set_seed)."""
        ctx = self._live()
        x = self._images(x)
        out = np.empty((x.shape[0], self.classes), dtype=np.float32)
        for s in range(0, x.shape[0], self.batch):
            xb = np.ascontiguousarray(x[s:s + self.batch])
            yb = np.empty((xb.shape[0], self.classes), dtype=np.float32)
            if seed is not None:
                self._check(self._c.set_seed(ctx, self._c.batch_seed(seed, s)))
            self._check(self._c.run(ctx, xb, xb.size, yb, yb.size))
            out[s:s + xb.shape[0]] = yb
        return out

    def step(self, x):
        """One time step of the current sequence (at most `batch` images): the readout so far."""
        ctx = self._live()
        x = self._images(x)
        y = np.empty((x.shape[0], self.classes), dtype=np.float32)
        self._check(self._c.step(ctx, x, x.size, y, y.size))
        return y

    def reset(self):
        self._check(self._c.reset(self._live()))

    def set_seed(self, seed):
        self._check(self._c.set_seed(self._live(), seed))

    def preprocess(self, images):
        """uint8 images [n, C, h, w] (h, w at least the model's) -> float32 model input."""
        im = np.ascontiguousarray(images, dtype=np.uint8)
        if im.ndim == 3:
            im = im[None]
        if im.ndim != 4:
            raise ValueError(f"{self.name}: images of shape {im.shape}; expected [n, C, h, w]")
        out = np.empty((im.shape[0],) + self.input_shape, dtype=np.float32)
        n, c, h, w = im.shape
        self._check(self._c.preprocess(self._live(), im, n, c, h, w, out, out.size))
        return out

    def close(self):
        if self._ctx is not None:
            self._c.free(self._ctx)
            self._ctx = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print("usage: python3 snnc_artifact.py path/to/libNAME.so   (prints the model's sizes)")
        sys.exit(0 if len(sys.argv) == 2 else 2)
    try:
        with Artifact(sys.argv[1]) as m:
            for k, v in m.info.items():
                print(f"{k}: {v}")
            print(f"variant: {m.variant}")
    except (ArtifactError, OSError, ValueError) as e:
        print(f"snnc_artifact: {e}", file=sys.stderr)
        sys.exit(1)
