"""The ctypes binding to libfastprom: finding the library, the C structs
mirrored field for field from include/fastprom.h, and the prototypes of every
function the package calls.

Everything else in the package goes through this module, so the ABI lives
in one place. ctypes releases the GIL around each call and the C library is
thread-safe, so Python threads really do update in parallel.
"""
import ctypes
import ctypes.util
import glob
import os

# The header's major.minor this binding mirrors; 0.x minors may change structs.
ABI_VERSION = (0, 1)

OK = 0
EINVAL = -1
ESYS = -2
ECORRUPT = -3
EVERSION = -4
EFULL = -5
ELIMIT = -6
EEXIST = -7
ENOENT = -8
EBUSY = -9
ENOMEM = -10
ERDONLY = -11

COUNTER, GAUGE, HISTOGRAM, SUMMARY, INFO, STATESET = 1, 2, 3, 4, 5, 6
NTYPES = 7

READONLY, PRIVATE, NO_CREATE = 0x1, 0x2, 0x4
EXEMPLARS = 0x1
RENDER_CREATED, RENDER_NO_EOF = 0x1, 0x2
FORMAT_TEXT, FORMAT_OPENMETRICS, FORMAT_JSON = 0, 1, 2

ERROR_TEXT_LENGTH = 320
MAX_LABELS = 16
MAX_EXEMPLAR_LABELS = 128


class Error(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("text", ctypes.c_char * ERROR_TEXT_LENGTH)]


class Options(ctypes.Structure):
    _fields_ = [
        ("path", ctypes.c_char_p),
        ("size", ctypes.c_size_t),
        ("max_slots", ctypes.c_uint),
        ("family_limit", ctypes.c_uint),
        ("mode", ctypes.c_uint),
        ("flags", ctypes.c_uint),
    ]


class FamilyDef(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("name", ctypes.c_char_p),
        ("help", ctypes.c_char_p),
        ("unit", ctypes.c_char_p),
        ("label_names", ctypes.POINTER(ctypes.c_char_p)),
        ("nlabels", ctypes.c_size_t),
        ("buckets", ctypes.POINTER(ctypes.c_double)),
        ("nbuckets", ctypes.c_size_t),
        ("states", ctypes.POINTER(ctypes.c_char_p)),
        ("nstates", ctypes.c_size_t),
        ("gauge_mode", ctypes.c_int),
        ("max_series", ctypes.c_uint),
        ("flags", ctypes.c_uint),
    ]


class Label(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("value", ctypes.c_char_p)]


class Buf(ctypes.Structure):
    # data is a void pointer so ctypes never copies it behind our back.
    _fields_ = [("data", ctypes.c_void_p), ("len", ctypes.c_size_t), ("cap", ctypes.c_size_t)]


class RenderOptions(ctypes.Structure):
    _fields_ = [
        ("format", ctypes.c_int),
        ("names", ctypes.POINTER(ctypes.c_char_p)),
        ("nnames", ctypes.c_size_t),
        ("prefix", ctypes.c_char_p),
        ("flags", ctypes.c_uint),
        ("exclude", ctypes.POINTER(ctypes.c_char_p)),
        ("nexclude", ctypes.c_size_t),
        ("stat", ctypes.c_void_p),  # fastprom_stat_t *, unused here
    ]


class Stat(ctypes.Structure):
    _fields_ = [
        ("layout_version", ctypes.c_uint32),
        ("size", ctypes.c_uint64),
        ("used", ctypes.c_uint64),
        ("created", ctypes.c_double),
        ("families", ctypes.c_uint32),
        ("families_by_type", ctypes.c_uint32 * NTYPES),
        ("series", ctypes.c_uint32),
        ("series_by_type", ctypes.c_uint32 * NTYPES),
        ("series_capacity", ctypes.c_uint32),
        ("slots_total", ctypes.c_uint32),
        ("slots_live", ctypes.c_uint32),
        ("slots_dead", ctypes.c_uint32),
        ("processes_live", ctypes.c_uint32),
        ("dropped_series", ctypes.c_uint64),
        ("dropped_updates", ctypes.c_uint64),
        ("folded_slots", ctypes.c_uint64),
        ("repairs", ctypes.c_uint64),
        ("activity", ctypes.c_uint64),
    ]


_P = ctypes.c_void_p  # opaque handles: fastprom_t*, fastprom_family_t*, fastprom_series_t*
_ERR = ctypes.POINTER(Error)
_STRS = ctypes.POINTER(ctypes.c_char_p)
_SIZES = ctypes.POINTER(ctypes.c_size_t)

# name: (restype, argtypes)
_PROTOTYPES = {
    "fastprom_strerror": (ctypes.c_char_p, [ctypes.c_int]),
    "fastprom_version": (ctypes.c_char_p, []),
    "fastprom_open": (_P, [ctypes.POINTER(Options), _ERR]),
    "fastprom_close": (None, [_P]),
    "fastprom_check": (ctypes.c_int, [_P, _ERR]),
    "fastprom_path": (ctypes.c_char_p, [_P]),
    "fastprom_collect_dead": (ctypes.c_int, [_P, _ERR]),
    "fastprom_gauge_mode_parse": (ctypes.c_int, [ctypes.c_char_p]),
    "fastprom_gauge_mode_name": (ctypes.c_char_p, [ctypes.c_int]),
    "fastprom_family": (_P, [_P, ctypes.POINTER(FamilyDef), _ERR]),
    "fastprom_series": (_P, [_P, _STRS, _SIZES, _ERR]),
    "fastprom_remove": (ctypes.c_int, [_P, _STRS, _SIZES, _ERR]),
    "fastprom_clear": (ctypes.c_int, [_P, _ERR]),
    "fastprom_inc": (ctypes.c_int, [_P, ctypes.c_double]),
    "fastprom_dec": (ctypes.c_int, [_P, ctypes.c_double]),
    "fastprom_set": (ctypes.c_int, [_P, ctypes.c_double]),
    "fastprom_observe": (ctypes.c_int, [_P, ctypes.c_double]),
    "fastprom_inc_exemplar": (ctypes.c_int, [_P, ctypes.c_double, ctypes.POINTER(Label), ctypes.c_size_t,
                                             ctypes.c_double]),
    "fastprom_observe_exemplar": (ctypes.c_int, [_P, ctypes.c_double, ctypes.POINTER(Label), ctypes.c_size_t,
                                                 ctypes.c_double]),
    "fastprom_state": (ctypes.c_int, [_P, ctypes.c_uint]),
    "fastprom_info": (ctypes.c_int, [_P, ctypes.POINTER(Label), ctypes.c_size_t, _ERR]),
    "fastprom_content_type": (ctypes.c_char_p, [ctypes.c_int]),
    "fastprom_buf_free": (None, [ctypes.POINTER(Buf)]),
    "fastprom_render": (ctypes.c_int, [_P, ctypes.POINTER(RenderOptions), ctypes.POINTER(Buf), _ERR]),
    "fastprom_stat": (ctypes.c_int, [_P, ctypes.POINTER(Stat), _ERR]),
    "fastprom_type_name": (ctypes.c_char_p, [ctypes.c_int]),
}


def _candidates():
    """(where, path or None, why None) in lookup order."""
    here = os.path.dirname(os.path.abspath(__file__))
    found = []
    env = os.environ.get("FASTPROM_LIB")
    if env:
        found.append(("$FASTPROM_LIB", env, None))
    beside = sorted(glob.glob(os.path.join(here, "libfastprom.so*")), key=len)
    found.append(("next to the package", beside[0] if beside else os.path.join(here, "libfastprom.so"), None))
    build = os.path.normpath(os.path.join(here, "..", "..", "..", "build", "libfastprom.so"))
    found.append(("the source tree's build/", build, None))
    try:
        from . import _paths  # written by `make install`
        soname = f"libfastprom.so.{ABI_VERSION[0]}"
        found.append(("the installed lib dir (_paths.LIBDIR)", os.path.join(_paths.LIBDIR, soname), None))
    except ImportError:
        found.append(("the installed lib dir (_paths.LIBDIR)", None, "no _paths.py (written by make install)"))
    found.append(("ctypes.util.find_library('fastprom')", ctypes.util.find_library("fastprom"), "found nothing"))
    return found


def _load():
    tried = []
    for where, path, why in _candidates():
        if path is None:
            tried.append(f"{where}: {why}")
            continue
        # find_library gives a bare soname: the dynamic loader searches for it.
        if os.path.sep in path and not os.path.exists(path):
            tried.append(f"{where}: {path} does not exist")
            if where == "$FASTPROM_LIB":
                break
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append(f"{where}: {path}: {e}")
            if where == "$FASTPROM_LIB":
                break  # an explicit choice that fails must not silently fall back
    raise ImportError(
        "fastprom: cannot load libfastprom.so. Searched: " + "; ".join(tried) +
        ". Build it with `make` in the fastprom tree, install it with `make install`, "
        "or set FASTPROM_LIB=/path/to/libfastprom.so")


lib, LIB_PATH = _load()

for _name, (_restype, _argtypes) in _PROTOTYPES.items():
    try:
        _fn = getattr(lib, _name)
    except AttributeError:
        raise ImportError(f"fastprom: {LIB_PATH} lacks {_name}: it is older than this Python package; "
                          "rebuild or reinstall libfastprom") from None
    _fn.restype = _restype
    _fn.argtypes = _argtypes

# The update functions again, called without releasing the GIL: they take
# ~10 ns, so releasing and re-taking the GIL would cost more than the call
# and hand the GIL to another thread at every update. Structural calls above
# do release it.
#
# The one update that can wait -- a thread's first update of a series takes
# the segment lock to claim its cells -- also holds the GIL, on purpose:
# which call is the first is decided inside the C library, and tracking
# (series, thread) pairs here would cost a thread-id lookup and a set test,
# ~30 ns, on every update (+15% on inc()) to spare a wait that happens once
# per series and thread, is as short as the lock holder's structural work,
# and cannot deadlock (the holder is C code that never needs the GIL).
# Releasing the GIL there needs the library to say so: hot calls returning
# a "slow path needed" code without taking the lock, retried here through
# the GIL-releasing prototypes.
_HOT = ("fastprom_inc", "fastprom_dec", "fastprom_set", "fastprom_observe", "fastprom_state")
hot = {}
for _name in _HOT:
    _restype, _argtypes = _PROTOTYPES[_name]
    hot[_name] = ctypes.PYFUNCTYPE(_restype, *_argtypes)((_name, lib))

VERSION = lib.fastprom_version().decode()
if tuple(int(x) for x in VERSION.split(".")[:2]) != ABI_VERSION:
    raise ImportError(f"fastprom: {LIB_PATH} is libfastprom {VERSION}; this Python package mirrors the "
                      f"{ABI_VERSION[0]}.{ABI_VERSION[1]} ABI. Install matching versions.")


def strerror(code):
    return lib.fastprom_strerror(code).decode()


def error_text(err):
    """The C error's one-line text (or the code's description when empty)."""
    text = err.text.decode("utf-8", "replace")
    return text or strerror(err.code)


def encode_strings(values):
    """UTF-8 bytes of each value, and the C arrays (char**, size_t*) over them.
    The bytes list must stay alive as long as the arrays are used."""
    data = [v.encode("utf-8") for v in values]
    n = len(data)
    return data, (ctypes.c_char_p * n)(*data), (ctypes.c_size_t * n)(*(len(b) for b in data))
