"""The one house decorator for every fastshade kernel.

All Numba options live here and nowhere else (a test greps the tree for stray
``fastmath=`` / ``cache=`` / ``parallel=`` arguments):

* ``nogil=True``: kernels release the GIL so threaded callers (Dask workers,
  user thread pools) can run them concurrently.
* ``error_model="numpy"``: division by zero gives inf/nan instead of raising;
  kernels never raise.
* ``fastmath`` is a *set* of LLVM flags, not ``True``.  ``nnan``/``ninf`` are
  left out on purpose (NaN checks must keep working) and so is ``afn``
  (approximate ``exp``/``log`` would make the Laplacian weights differ from
  NumPy's in the last bits).  ``reassoc`` is left out as well so that
  reductions are summed in source order: outputs are bit-for-bit reproducible
  and match the NumPy/SciPy references exactly.
* ``no_cfunc_wrapper=True``: no C-callable wrapper per compiled version (Numba makes one for
  passing a kernel as a first-class function value, which nothing does): 4 % less compile
  time on a cold run.
* Private kernels (``_name``: helpers called only from other kernels) compile without the
  CPython wrapper (``no_cpython_wrapper=True``, :data:`PRIVATE_OPTIONS`): nothing in Python calls
  them, and a first run compiles 0.4 s of CPU less.
* One compiled version per argument *type*: a kernel called from another kernel
  with a constant (``0``, ``True``) is compiled for the constant's type, not once
  more for the constant itself (Numba's literal dispatch), which made the first
  run compile 54 versions of its 46 kernels instead of 49.
* Cached kernels load without Numba's full target-context refresh (see
  ``_KernelCache.load_overload``).
* The compiled-kernel cache (see :func:`cache_folders`), in this order:
  ``NUMBA_CACHE_DIR`` when set, the ``__pycache__`` beside the kernels when the
  install folder is writable, ``$XDG_CACHE_HOME/fastshade/numba`` (or
  ``~/.cache/fastshade/numba``), and a private ``fastshade-numba-UID`` folder in
  the temporary directory.  When none is writable the kernels compile in memory
  on every run instead of failing at import (numba/numba#4908), and
  :data:`CACHE_DIR` is None (the command line says so once).
  ``FASTSHADE_NO_CACHE=1`` forces in-memory compilation.

* ``parallel=True`` only through :func:`jit_parallel`: the kernels of the eigensolve, the
  Laplacian assembly (bands of image rows) and the heat steps (bands of rows with a
  recomputed margin) split their rows into fixed chunks (the partition never
  depends on the thread count, and a sum over chunks is added in chunk order), so their
  outputs are the same bytes for any ``numba.set_num_threads`` (:mod:`fastshade.threads`).
  Such a kernel is two dispatchers of one source: the serial kernel itself (``prange`` runs
  as ``range``, the same sums in the same order, so the same bytes) and its ``parallel``
  twin, compiled only when a caller picks it (``fastshade.threads.threaded``: big work on
  more than one thread).  Parallel compilation costs about three times a serial one, so a
  first run on a small image compiles about 8 s of CPU less.  Every other kernel is serial.
  The twins share the house cache (its folders, its light cached load: before, Numba's own
  ``cache=True`` refreshed the whole target context on their first load, about 0.2 s of CPU
  in every warm ``fastshade shade``), under their own file names.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from typing import Any, TypeVar

import numba
from numba.core import sigutils, types
from numba.core.caching import (
    CompileResultCacheImpl,
    FunctionCache,
    IndexDataCacheFile,
    InTreeCacheLocator,
    UserProvidedCacheLocator,
    _CacheLocator,
    _SourceFileBackedLocatorMixin,
)

F = TypeVar("F", bound=Callable)

FASTMATH_FLAGS: frozenset[str] = frozenset({"nsz", "arcp", "contract"})
"""LLVM fast-math flags used by every kernel (see module docstring)."""

_BASE_OPTIONS = dict(nogil=True, error_model="numpy", fastmath=set(FASTMATH_FLAGS), no_cfunc_wrapper=True)

PRIVATE_OPTIONS = dict(_BASE_OPTIONS, no_cpython_wrapper=True)
"""The options of a private kernel (``_name``, called only from other kernels): no wrapper that
unboxes Python arguments (its typing, lowering and machine code were 10-40 % of such a helper's
compile time; 0.4 s of CPU of a first default run)."""

CACHE_ENABLED: bool = os.environ.get("FASTSHADE_NO_CACHE", "") in ("", "0")

KERNELS: list[Any] = []
"""Every kernel dispatcher, in definition order (the warm-up and the cold-cache check read it)."""

CACHE_DIR: str | None = None
"""The folder of the first kernel's compiled-code cache (None: compiled in memory)."""

CACHE_MISS_HOOK: Callable[[str, tuple], bool] | None = None
"""Called as ``hook(kernel name, argument types)`` when a kernel has no cached code for its
arguments; True means the code may be in the cache now (another process compiled it), so the
cache is read once more.  Set by ``fastshade.compile_plan`` during a cold run only."""


def user_cache_folder() -> str:
    """``$XDG_CACHE_HOME/fastshade/numba``, else ``~/.cache/fastshade/numba``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "fastshade", "numba")


def private_temp_folder() -> str:
    """``$TMPDIR/fastshade-numba-<uid>`` (``$TMPDIR`` when set, else the system's temporary
    folder): used only when it is this user's alone (mode 0700).
    """
    uid = os.getuid() if hasattr(os, "getuid") else 0
    base = os.environ.get("TMPDIR") or tempfile.gettempdir()
    return os.path.join(base, f"fastshade-numba-{uid}")


def _private_folder_ok(path: str) -> bool:
    """Create ``path`` with mode 0700 if missing; True when it is ours and nobody else's to write.

    Cached kernels are code: a folder that another user could write into is never used.
    """
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode) or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return False
    return not hasattr(os, "getuid") or st.st_uid == os.getuid()


_WRITABLE: dict[str, bool] = {}


class _CheckedOnce:
    """Locator mixin: a folder's writability is probed once per process, not once per kernel
    (Numba creates and deletes a temporary file in it for each of the 68 kernels).
    """

    def ensure_cache_path(self) -> None:
        path = self.get_cache_path()  # type: ignore[attr-defined]
        if path not in _WRITABLE:
            try:
                super().ensure_cache_path()  # type: ignore[misc]
                _WRITABLE[path] = True
            except OSError:
                _WRITABLE[path] = False
        if not _WRITABLE[path]:
            raise OSError(f"{path} is not writable")


class _ProvidedLocator(_CheckedOnce, UserProvidedCacheLocator):
    pass


class _InTreeLocator(_CheckedOnce, InTreeCacheLocator):
    pass


class _FolderLocator(_CheckedOnce, _SourceFileBackedLocatorMixin, _CacheLocator):
    """A cache locator below a fixed base folder (``folder()`` gives it; None = unusable)."""

    @staticmethod
    def folder() -> str | None:
        raise NotImplementedError

    def __init__(self, py_func: Any, py_file: str) -> None:
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        base = self.folder()
        assert base is not None
        self._cache_path = os.path.join(base, self.get_suitable_cache_subpath(py_file))

    def get_cache_path(self) -> str:
        return self._cache_path

    @classmethod
    def from_function(cls, py_func: Any, py_file: str) -> Any:
        if cls.folder() is None:
            return None
        return super().from_function(py_func, py_file)


class _UserFolderLocator(_FolderLocator):
    @staticmethod
    def folder() -> str | None:
        return user_cache_folder()


class _TempFolderLocator(_FolderLocator):
    @staticmethod
    def folder() -> str | None:
        path = private_temp_folder()
        return path if _private_folder_ok(path) else None


def cache_folders() -> list[tuple[str, str | None]]:
    """The cache folders tried, in order, as ``(name, folder)`` (folder None: not applicable).

    The in-tree folder depends on the kernel's file, so it is shown as ``__pycache__``.
    """
    return [
        ("NUMBA_CACHE_DIR", os.environ.get("NUMBA_CACHE_DIR") or None),
        ("install folder", "kernels/__pycache__"),
        ("user cache", user_cache_folder()),
        ("private temp", private_temp_folder()),
    ]


class _CacheImpl(CompileResultCacheImpl):
    _locator_classes = [_ProvidedLocator, _InTreeLocator, _UserFolderLocator, _TempFolderLocator]


class _KernelCache(FunctionCache):
    _impl_class = _CacheImpl

    options_key = ""
    """The house options the kernel compiles with (set by :func:`_house_dispatcher`)."""

    kernel_name = ""
    """The kernel's :func:`kernel_name` (set by :func:`_house_dispatcher`)."""

    def _index_key(self, sig: Any, codegen: Any) -> Any:
        """Numba's key (signature, machine, bytecode) and the compile options.

        Numba's own key omits the options, so code compiled with other options from the same
        source (a kernel that became a serial ``jit_parallel`` kernel kept loading its old
        ``parallel=True`` code: its file had not changed) would load for these.
        """
        return (*super()._index_key(sig, codegen), self.options_key)

    def load_overload(self, sig: Any, target_context: Any) -> Any:
        """Load cached machine code without refreshing the whole target context first.

        Numba refreshes it before every cache load (importing every lowering and typing
        registry: about 0.3 s of CPU, a third of a warm ``fastshade shade`` start-up), but
        cached machine code needs only the symbols it links against: the runtime (NRT) and
        the hash secrets that ``numba.cpython.hashing`` registers when imported (the C helpers
        and maths functions are registered when the context is made); a compilation
        refreshes the context itself.
        """
        import numba.cpython.hashing  # noqa: F401 (registers the _numba_hashsecret_* symbols)
        from numba.core.runtime import rtsys

        rtsys.initialize(target_context)
        with self._guard_against_spurious_io_errors():
            loaded = self._load_overload(sig, target_context)
            if loaded is None and CACHE_MISS_HOOK is not None and self.kernel_name:
                args, _ = sigutils.normalize_signature(sig)
                if CACHE_MISS_HOOK(self.kernel_name, tuple(args)):
                    loaded = self._load_overload(sig, target_context)
            return loaded


class _ThreadedKernelCache(_KernelCache):
    """The cache of a :func:`jit_parallel` kernel's serial version: its machine code may call
    the threading layer (``numba.get_thread_id``, 0 there) even without ``parallel=True``, so
    the layer is loaded before the code is linked (else the call jumps to an unresolved symbol).
    """

    def load_overload(self, sig: Any, target_context: Any) -> Any:
        from numba.np.ufunc.parallel import _launch_threads

        _launch_threads()
        return super().load_overload(sig, target_context)


class _ParallelTwinCache(_ThreadedKernelCache):
    """The cache of a kernel's ``parallel`` twin: the same folder, its own index and data files
    (Numba's index key holds the signature, not the ``parallel`` flag, so sharing the serial
    kernel's files would load one variant for the other).
    """

    def __init__(self, py_func: Any) -> None:
        super().__init__(py_func)
        self._cache_file = IndexDataCacheFile(cache_path=self._cache_path,
                                              filename_base="parallel-" + self._impl.filename_base,
                                              source_stamp=self._impl.locator.get_source_stamp())


def _one_version_per_type(dispatcher: Any) -> None:
    """Type calls from other kernels by the arguments' types, not their constant values."""
    resolve = dispatcher.get_call_template

    def get_call_template(args: tuple, kws: dict) -> Any:
        return resolve(tuple(types.unliteral(a) for a in args),
                       {k: types.unliteral(v) for k, v in kws.items()})

    dispatcher.get_call_template = get_call_template


def jit(func: F) -> F:
    """Compile ``func`` with the house options (``@jit`` on a module-level def).

    The result is an ordinary Numba dispatcher: callable from Python with
    NumPy arrays and from a user's own ``@njit`` code.  A private kernel (name starting with
    ``_``) is a helper of the kernels of its module, called only from compiled code: it compiles
    without the CPython wrapper (:data:`PRIVATE_OPTIONS`) and cannot be called from Python.
    """
    return _house_dispatcher(func, PRIVATE_OPTIONS if func.__name__.startswith("_") else _BASE_OPTIONS)


def _options_key(options: dict[str, Any]) -> str:
    """The compile options as a string that is the same in every process (sets sorted: their
    order follows the per-process string hashing).
    """
    return repr(sorted((k, sorted(v) if isinstance(v, (set, frozenset)) else v) for k, v in options.items()))


def _house_dispatcher(func: F, options: dict[str, Any], cache: type[_KernelCache] = _KernelCache,
                      listed: bool = True) -> F:
    """The dispatcher of ``func`` with ``options``, the house cache and one version per type
    (``listed``: in :data:`KERNELS`).
    """
    global CACHE_DIR
    dispatcher = numba.njit(cache=False, **options)(func)
    if CACHE_ENABLED:
        try:
            dispatcher._cache = cache(dispatcher.py_func)
        except RuntimeError:
            # "cannot cache function ...: no locator available": compiled in memory.
            pass
        else:
            dispatcher._cache.options_key = _options_key(options)
            dispatcher._cache.kernel_name = kernel_name(dispatcher)
            if not KERNELS:
                CACHE_DIR = dispatcher._cache.cache_path
    _one_version_per_type(dispatcher)
    if listed:
        KERNELS.append(dispatcher)
    return dispatcher  # type: ignore[return-value]


def kernel_name(dispatcher: Any) -> str:
    """``module.function`` of a kernel dispatcher (``laplacian.assemble_laplacian_csr``; a
    :func:`jit_parallel` kernel's twin is ``laplacian.assemble_laplacian_csr.parallel``).
    """
    name = f"{dispatcher.py_func.__module__.rsplit('.', 1)[-1]}.{dispatcher.py_func.__name__}"
    return name + ".parallel" if dispatcher.targetoptions.get("parallel") else name


def kernels_by_name() -> dict[str, Any]:
    """Every kernel dispatcher (and parallel twin) by :func:`kernel_name` (imports every kernel
    module).
    """
    import importlib
    import pkgutil

    package = importlib.import_module(__name__.rsplit(".", 1)[0])
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    every = [*KERNELS, *(d.parallel for d in KERNELS if hasattr(d, "parallel"))]
    return {kernel_name(d): d for d in every}


def is_cached(dispatcher: Any) -> bool:
    """Whether ``dispatcher`` has compiled code in its cache for its current source."""
    cache_file = getattr(dispatcher._cache, "_cache_file", None)
    if cache_file is None:  # NullCache: compiled in memory
        return False
    try:
        index = cache_file._load_index()
    except Exception:  # an unreadable or foreign index is a cold cache
        return False
    options = dispatcher._cache.options_key  # entries compiled with other options do not count
    return any(isinstance(key, tuple) and key and key[-1] == options for key in index)


def jit_parallel(func: F) -> F:
    """:func:`jit` for a kernel whose ``prange`` loops may run on Numba's threads.

    Returns the serial kernel (``prange`` as ``range``); its attribute ``parallel`` is the same
    source compiled with ``parallel=True``, which runs the ``prange`` loops on the caller's
    Numba threads (``numba.set_num_threads``).  Both give the same bytes; only for kernels
    whose ``prange`` iterates over a fixed partition (see the module docstring).  Callers pick
    one with ``fastshade.threads.threaded``.
    """
    kernel = _house_dispatcher(func, _BASE_OPTIONS, cache=_ThreadedKernelCache)
    kernel.parallel = _house_dispatcher(func, dict(_BASE_OPTIONS, parallel=True),  # type: ignore[attr-defined]
                                        cache=_ParallelTwinCache, listed=False)
    return kernel


class CCallback:
    """A C-callable kernel (:func:`c_callback`): compiled, with the house options and cache, on the
    first read of :attr:`address`, so importing its module compiles nothing.
    """

    def __init__(self, func: Callable[..., Any], signature: Any) -> None:
        from numba.core.ccallback import CFunc

        options = {k: v for k, v in _BASE_OPTIONS.items() if k != "no_cfunc_wrapper"}
        self.__name__ = func.__name__
        self.__doc__ = func.__doc__
        self.py_func = func
        self._cfunc = CFunc(func, sigutils.normalize_signature(signature), locals={}, options=options)
        if CACHE_ENABLED:
            try:
                self._cfunc._cache = _KernelCache(func)
            except RuntimeError:  # no locator available: compiled in memory
                pass
            else:
                self._cfunc._cache.options_key = _options_key(options)
        self._address: int | None = None

    @property
    def address(self) -> int:
        """The address of the C function (compiled, or loaded from the cache, on first use)."""
        if self._address is None:
            self._cfunc.compile()
            self._address = int(self._cfunc.address)
        return self._address


def c_callback(signature: Any) -> Callable[[Callable[..., Any]], CCallback]:
    """Compile a module-level def as a C callback of ``signature`` (a Numba signature) with the
    house options (``nogil``, ``error_model``, ``fastmath``) and cache, lazily (:class:`CCallback`):
    for C code that calls back, such as NumPy's data allocator (``fastshade.heap``).
    """
    return lambda func: CCallback(func, signature)
