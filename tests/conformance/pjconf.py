"""CPython conformance for picklejail: what does CPython's own unpickler do?

Standard library of /usr/bin/python3 only.  Nothing in an input is ever
imported or called: CPython's unpickler runs for real, but every module it
imports is a stand-in and every object it fetches from one is a recording
stand-in class, so "executing" a stream only appends events to a list.

How a stream is run (mode "file", the reference, as torch.load/pickle.load do):
a subclass of the C pickle.Unpickler reading an io.BytesIO, loaded repeatedly
until the data ends or a load fails.  find_class records the raw (module,
name) it receives and then calls CPython's own find_class, so _compat_pickle
mapping (proto < 3) and the dotted attribute walk (proto >= 4) are CPython's,
not ours; only builtins.__import__ and the sys.modules entries it fills are
replaced while it runs.  Mode "loads" runs pickle.loads (no subclass: raw names
come from the "pickle.find_class" audit event).  Mode "python" runs the
pure-Python pickle._Unpickler with every opcode handler wrapped, which gives
the opcode and byte offset of each event; those are copied onto the "file"
events when both runs agree.

Events, in order:
  {"ev": "global", "raw_module", "raw_name", "module", "name"}
  {"ev": "call", "kind": "call"|"new"|"build"|"implicit", "callee", "callee_global", "args"}
     call: the callable was called (REDUCE, INST/OBJ with arguments)
     new: cls.__new__ (NEWOBJ, NEWOBJ_EX, INST/OBJ without arguments)
     build: __setstate__ (BUILD)
     implicit: a method the unpickler invoked on a non-builtin object
               (APPEND(S) -> extend/append, SETITEM(S) -> __setitem__, ADDITEMS -> add)
  {"ev": "persid", "pid"}
"""
import builtins
import copyreg
import io
import itertools
import json
import os
import pickle
import re
import struct
import sys
import warnings

# ---------------------------------------------------------------------------
# Recording stand-ins

_SUMMARY_BUDGET = 400


class _Recorder:
    def __init__(self):
        self.events = []
        self.pending = None      # global being resolved by find_class
        self.cur_op = None       # python mode: opcode being executed
        self.cur_off = None

    def add(self, ev):
        if self.cur_op is not None:
            ev["op"] = self.cur_op
            ev["off"] = self.cur_off
        self.events.append(ev)
        return ev


_REC = _Recorder()


def _summ(v, budget, depth=0):
    """Bounded repr: stand-ins by path, containers shallow, strings excerpted."""
    if budget[0] <= 0:
        return "..."
    budget[0] -= 1
    if isinstance(v, _Meta):
        return type.__getattribute__(v, "_pj_path")
    if depth > 3:
        return "..."
    if isinstance(v, (str, bytes, bytearray)):
        r = repr(v[:40])
        return r + ("..." if len(v) > 40 else "")
    if isinstance(v, tuple):
        inner = ", ".join(_summ(x, budget, depth + 1) for x in v[:8])
        return "(" + inner + ("," if len(v) == 1 else "") + (", ..." if len(v) > 8 else "") + ")"
    if isinstance(v, list):
        return "[" + ", ".join(_summ(x, budget, depth + 1) for x in v[:8]) + \
            (", ..." if len(v) > 8 else "") + "]"
    if isinstance(v, dict):
        items = list(v.items())[:8]
        return "{" + ", ".join(_summ(k, budget, depth + 1) + ": " + _summ(x, budget, depth + 1)
                               for k, x in items) + (", ..." if len(v) > 8 else "") + "}"
    if isinstance(v, (int, float, bool, type(None), complex)):
        r = repr(v)
        return r if len(r) <= 40 else r[:40] + "..."
    return "<" + type(v).__name__ + ">"


def summarize(v):
    return _summ(v, [_SUMMARY_BUDGET])


def _new_standin(path, is_global=False):
    return _Meta("StandIn", (_Base,), {"_pj_path": path, "_pj_global": is_global})


def _record_call(kind, target, args, kwargs):
    path = type.__getattribute__(target, "_pj_path")
    s_args = summarize(tuple(args))
    if kwargs:
        s_args = s_args + " **" + summarize(dict(kwargs))
    _REC.add({"ev": "call", "kind": kind, "callee": path,
              "callee_global": bool(type.__getattribute__(target, "_pj_global")),
              "nargs": len(args), "args": s_args})
    return _new_standin(path + "(" + s_args[1:-1] + ")" if s_args.startswith("(") else path + "()")


class _Meta(type):
    """Stand-in objects are classes (NEWOBJ insists on a type) of this
    metaclass: calling one records a call, any non-dunder attribute is a child
    stand-in, __setstate__ records BUILD."""

    def __call__(cls, *args, **kwargs):
        return _record_call("call", cls, args, kwargs)

    def __getattribute__(cls, name):
        if name.startswith("_pj_"):
            return type.__getattribute__(cls, name)
        if name == "__setstate__":
            def setstate(state, _cls=cls):
                _record_call("build", _cls, (state,), None)
            return setstate
        if name in ("extend", "append", "add"):
            # the unpickler's APPEND(S)/ADDITEMS on a non-list/set object
            target = _new_standin(type.__getattribute__(cls, "_pj_path") + "." + name)

            def method(*a, _t=target):
                return _record_call("implicit", _t, a, None)
            return method
        if name.startswith("__") and name.endswith("__"):
            if name in ("__getinitargs__", "__dict__", "__reduce__", "__reduce_ex__"):
                raise AttributeError(name)
            return type.__getattribute__(cls, name)
        pend = _REC.pending
        if "." in name or "\x00" in name or name == "":
            if pend is not None and pend.get("_walk") is cls:
                pend["failed"] = True
            raise AttributeError(name)
        path = type.__getattribute__(cls, "_pj_path") + "." + name
        if pend is not None and pend.get("_walk") is cls:
            pend["_walk_names"].append(name)
            child = _new_standin(path, True)
            pend["_walk"] = child
            return child
        return _new_standin(path)

    def __setitem__(cls, key, value):
        target = _new_standin(type.__getattribute__(cls, "_pj_path") + ".__setitem__")
        _record_call("implicit", target, (key, value), None)

    def __repr__(cls):
        return "<stand-in " + type.__getattribute__(cls, "_pj_path") + ">"


class _Base:
    def __new__(cls, *args, **kwargs):
        return _record_call("new", cls, args, kwargs)


class _Module:
    """A stand-in module: attributes are stand-in globals."""

    def __init__(self, name):
        object.__setattr__(self, "_pj_name", name)

    def __getattribute__(self, name):
        mod = object.__getattribute__(self, "_pj_name")
        if name.startswith("_pj_"):
            return object.__getattribute__(self, name)
        pend = _REC.pending
        if "." in name or name == "" or "\x00" in name:
            if pend is not None and pend.get("_mod") is self:
                pend["failed"] = True
            raise AttributeError(name)
        child = _new_standin(mod + "." + name, True)
        if pend is not None and pend.get("_mod") is self and "_walk" not in pend:
            pend["_walk"] = child
            pend["_walk_names"] = [name]
        return child

    def __repr__(self):
        return "<stand-in module " + object.__getattribute__(self, "_pj_name") + ">"


class _FakeImports:
    """While active, __import__(m) puts a stand-in module at sys.modules[m]."""

    def __init__(self):
        self.saved = {}
        self.real_import = None

    def fake_import(self, name, globals=None, locals=None, fromlist=(), level=0):
        pend = _REC.pending
        if _MODE[0] == "loads" and (pend is None or "_mod" in pend):
            # not find_class's import (the interpreter's own, e.g. for a warning)
            return self.real_import(name, globals, locals, fromlist, level)
        if not isinstance(name, str):
            raise TypeError("module name must be str")
        # Names no real import can succeed with fail as they would.
        if not name:
            raise ValueError("Empty module name")
        if "\x00" in name:
            raise ValueError("embedded null character")
        if "" in name.split("."):
            raise ModuleNotFoundError("No module named %r" % name)
        if name not in self.saved:
            self.saved[name] = sys.modules.get(name, _ABSENT)
        mod = _Module(name)
        sys.modules[name] = mod
        if pend is not None and "_mod" not in pend:
            pend["_mod"] = mod
            pend["module"] = name
        return mod

    def __enter__(self):
        self.real_import = builtins.__import__
        builtins.__import__ = self.fake_import
        return self

    def __exit__(self, *exc):
        builtins.__import__ = self.real_import
        for name, old in self.saved.items():
            if old is _ABSENT:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old
        self.saved.clear()
        return False


_ABSENT = object()


def _begin_global(raw_module, raw_name):
    ev = _REC.add({"ev": "global", "raw_module": raw_module, "raw_name": raw_name,
                   "module": None, "name": None})
    _REC.pending = ev
    return ev


def _finish_global():
    ev = _REC.pending
    _REC.pending = None
    if ev is None:
        return
    names = ev.pop("_walk_names", None)
    ev.pop("_walk", None)
    ev.pop("_mod", None)
    if names and not ev.get("failed"):
        ev["name"] = ".".join(names)


def _audit(event, args):
    if event == "pickle.find_class" and _MODE[0] == "loads":
        _finish_global()
        _begin_global(str(args[0]), str(args[1]))
    elif _MODE[0] is not None and event in _BLOCKED_EVENTS:
        # Belt and braces: nothing real may run while a stream is loaded.
        raise RuntimeError("pjconf: blocked audit event " + event)


_BLOCKED_EVENTS = {"os.system", "subprocess.Popen", "os.exec", "os.spawn", "os.posix_spawn",
                   "os.fork", "os.kill", "os.remove", "os.rename", "os.mkdir", "shutil.rmtree",
                   "socket.connect", "socket.bind", "ctypes.dlopen",
                   "urllib.Request", "webbrowser.open", "os.chmod", "os.truncate"}
_MODE = [None]
sys.addaudithook(_audit)


# ---------------------------------------------------------------------------
# The three ways of running a stream

class _Recording:
    """find_class records and then defers to CPython's own; persistent ids
    become stand-ins.  Shared by both unpicklers below."""

    def find_class(self, module, name):
        _finish_global()
        ev = _begin_global(module, name)
        try:
            with _FakeImports():
                return super().find_class(module, name)
        except BaseException:
            ev["failed"] = True  # the walk stopped part way: no resolved name
            raise
        finally:
            _finish_global()

    def persistent_load(self, pid):
        _REC.add({"ev": "persid", "pid": summarize(pid)})
        return _new_standin("persistent_load(" + summarize(pid) + ")")


class RecordingUnpickler(_Recording, pickle.Unpickler):
    """C unpickler."""


class PyRecordingUnpickler(_Recording, pickle._Unpickler):
    """Pure-Python unpickler with every opcode handler wrapped to note the
    opcode and its byte offset."""

    def __init__(self, file, **kw):
        super().__init__(file, **kw)
        self._pj_file = file
        self._pj_frame_base = 0
        d = {}
        for code, fn in pickle._Unpickler.dispatch.items():
            d[code] = self._pj_wrap(code, fn)
        self.dispatch = d

    def _pj_wrap(self, code, fn):
        def handler(u):
            fr = u._unframer.current_frame
            if fr is not None:
                off = u._pj_frame_base + fr.tell() - 1
            else:
                off = u._pj_file.tell() - 1
            _REC.cur_op = code
            _REC.cur_off = off
            try:
                fn(u)
            finally:
                if code == 0x95 and u._unframer.current_frame is not None:
                    fr = u._unframer.current_frame
                    u._pj_frame_base = u._pj_file.tell() - len(fr.getbuffer())
        return handler


# Extension codes registered for the hand-made EXT streams (CPython's registry
# is empty by default, where every EXT opcode fails "unregistered extension code").
EXT_CODES = {1: ("pj_ext_mod", "ext_one"), 0x1234: ("pj_ext_mod", "ext_two"),
             0x12345678: ("pj_ext_mod", "ext_four")}


def _register_extensions():
    for code, (mod, name) in EXT_CODES.items():
        if copyreg._extension_registry.get((mod, name)) != code:
            copyreg.add_extension(mod, name, code)


def _buffers():
    return iter([bytearray(b"buf")] * 64)


def _err(e):
    s = "%s: %s" % (type(e).__name__, e)
    return s[:300]


def _run_one(mode, data, f=None):
    """One load.  Returns dict(ok, error, events)."""
    _REC.events = []
    _REC.pending = None
    _REC.cur_op = None
    copyreg.clear_extension_cache()
    ok, error = True, None
    _MODE[0] = mode
    # Warnings (invalid escapes in STRING, ...) would run the warnings
    # machinery, which imports and calls linecache, in the middle of a load.
    wctx = warnings.catch_warnings()
    wctx.__enter__()
    warnings.simplefilter("ignore")
    try:
        if mode == "file":
            RecordingUnpickler(f, buffers=_buffers()).load()
        elif mode == "python":
            PyRecordingUnpickler(f, buffers=_buffers()).load()
        else:
            with _FakeImports():
                pickle.loads(data, buffers=_buffers())
    except RecursionError as e:
        ok, error = False, _err(e)
    except MemoryError as e:
        ok, error = False, _err(e)
    except _Timeout:
        ok, error = False, "Timeout"
    except Exception as e:  # every load failure CPython can raise
        ok, error = False, _err(e)
    finally:
        _MODE[0] = None
        wctx.__exit__(None, None, None)
        _finish_global()
        _REC.cur_op = None
    events = _REC.events
    _REC.events = []
    return {"ok": ok, "error": error, "events": events}


class _Timeout(BaseException):
    pass


def _alarm(signum, frame):
    raise _Timeout()


MAX_LOADS = 16


def record(data, timeout=3):
    """Run data in the three modes.  "file" and "python" are lists of loads
    (start offset, end offset, ok, error, events), in order, stopping at the
    first failure or the end of the data; "loads" is one load."""
    import signal
    _register_extensions()
    out = {}
    old = signal.signal(signal.SIGALRM, _alarm)
    try:
        for mode in ("file", "python"):
            loads = []
            f = io.BytesIO(data)
            while f.tell() < len(data) and len(loads) < MAX_LOADS:
                start = f.tell()
                signal.alarm(timeout)
                try:
                    r = _run_one(mode, data, f)
                except _Timeout:  # fired after the load had already returned
                    r = {"ok": False, "error": "Timeout", "events": []}
                finally:
                    signal.alarm(0)
                r["start"] = start
                r["end"] = f.tell()
                loads.append(r)
                if not r["ok"]:
                    break
            out[mode] = loads
        signal.alarm(timeout)
        try:
            out["loads"] = _run_one("loads", data)
        except _Timeout:
            out["loads"] = {"ok": False, "error": "Timeout", "events": []}
        finally:
            signal.alarm(0)
    finally:
        signal.signal(signal.SIGALRM, old)
    _annotate(out)
    return out


def _ev_key(e):
    if e["ev"] == "global":
        return ("global", e["raw_module"], e["raw_name"], e["module"], e["name"])
    if e["ev"] == "call":
        return ("call", e["kind"], e["callee"], e["args"])
    return (e["ev"], e.get("pid"))


def _annotate(out):
    """Copy opcode/offset from the pure-Python run onto the C file-mode run
    where the two saw the same events."""
    for cl, pl in zip(out["file"], out["python"]):
        ce, pe = cl["events"], pl["events"]
        same = (cl["start"] == pl["start"] and cl["ok"] == pl["ok"] and
                [_ev_key(e) for e in ce] == [_ev_key(e) for e in pe])
        cl["annotated"] = same
        if same:
            for a, b in zip(ce, pe):
                if "op" in b:
                    a["op"] = b["op"]
                    a["off"] = b["off"]


def record_files(paths, timeout=3):
    res = []
    for p in paths:
        with open(p, "rb") as fh:
            data = fh.read()
        try:
            res.append(record(data, timeout))
        except BaseException as e:  # keep going: one input must not lose the batch
            res.append({"crash": _err(e)})
    return res


# ---------------------------------------------------------------------------
# Running the recorder in a child (resource-limited) and picklejail

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PY = "/usr/bin/python3"
PJ_BIN = os.environ.get("PJ_BIN", os.path.join(ROOT, "build", "asan", "picklejail"))


def record_in_child(paths, timeout=3):
    import subprocess
    cmd = [PY, os.path.abspath(__file__), "record", "--timeout", str(timeout)] + list(paths)
    p = subprocess.run(cmd, capture_output=True, timeout=60 + timeout * 3 * len(paths))
    if p.returncode != 0:
        raise RuntimeError("recorder failed: " + p.stderr.decode("utf-8", "replace")[-2000:])
    return json.loads(p.stdout)


def picklejail_scan(paths, timeout=300):
    """Run the picklejail CLI over paths.  Returns (per-path entry or None, stderr)."""
    import subprocess
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    import time
    for attempt in range(20):
        # the shared tree may be relinking the binary right now
        try:
            p = subprocess.run([PJ_BIN, "scan", "--format", "json", "--no-sandbox"] + list(paths),
                               capture_output=True, timeout=timeout, env=env)
            break
        except OSError:
            if attempt == 19:
                raise
            time.sleep(3)
    err = p.stderr.decode("utf-8", "replace")
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        return None, "exit %d, no JSON: %s" % (p.returncode, err[-2000:])
    files = doc.get("files", [])
    by_path = {}
    for f in files:
        by_path.setdefault(f.get("path"), f)
    return [by_path.get(pth) for pth in paths], err


# ---------------------------------------------------------------------------
# Comparison

OPNAMES = {}
try:
    import pickletools
    for _o in pickletools.opcodes:
        OPNAMES[ord(_o.code)] = _o.name
except Exception:
    pass

CALL_KINDS = {"call", "new", "build"}
# Opcodes that may produce each kind of call.
KIND_OPS = {"call": {"REDUCE", "INST", "OBJ"}, "new": {"NEWOBJ", "NEWOBJ_EX", "INST", "OBJ"},
            "build": {"BUILD"}}


def _pj_op(v):
    if isinstance(v, int):
        return OPNAMES.get(v, str(v))
    return v


def _pj_origin(g):
    o = g.get("origin")
    return o if isinstance(o, str) else {0: "global", 1: "stack_global", 2: "inst", 3: "ext",
                                          4: "derived"}.get(o, str(o))


def pj_escape(v):
    """A CPython string as picklejail's report writes it (report.c: printable
    ASCII kept, backslash doubled, UTF-8 kept, other bytes as \\xNN)."""
    if v is None:
        return None
    out = []
    for ch in v:
        o = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif 0x20 <= o < 0x7f or (o >= 0x80 and not 0xd800 <= o < 0xe000):
            out.append(ch)
        else:
            out.append("\\x%02x" % o if o < 0x100 else ch)
    return "".join(out)


def _gkey(e):
    return (pj_escape(e["raw_module"]), pj_escape(e["raw_name"]),
            pj_escape(e["module"] if e["module"] is not None else e["raw_module"]),
            pj_escape(e["name"] if e["name"] is not None else e["raw_name"]))


def _pkey(g):
    return (g.get("module"), g.get("name"), g.get("resolved_module") or g.get("module"),
            g.get("resolved_name") or g.get("name"))


def _opn(e):
    return OPNAMES.get(e["op"], "?") if "op" in e else "?"


def compare_stream(cp, st, compare_build=True):
    """Compare one CPython load (file mode) with one picklejail stream.
    Returns a list of differences, each "kind [opcode]: detail" (the part
    before ':' is the disagreement's signature).  Accepted streams must agree
    exactly; for a stream CPython rejects, what CPython did before failing
    must be a prefix of what picklejail reports."""
    diffs = []
    base = st.get("offset", 0) or 0
    accepted = cp["ok"]
    # picklejail may list a global of a stream once (first occurrence) where
    # CPython calls find_class every time: compare first occurrences of each
    # (raw, resolved) pair on both sides.
    cp_globals, seen = [], set()
    for e in cp["events"]:
        if e["ev"] == "global" and _gkey(e) not in seen:
            seen.add(_gkey(e))
            cp_globals.append(e)
    pj_globals, seen = [], set()
    for g in st.get("globals", []):
        if "derived" not in str(_pj_origin(g)).lower() and _pkey(g) not in seen:
            seen.add(_pkey(g))
            pj_globals.append(g)
    for i in range(max(len(cp_globals), len(pj_globals))):
        c = cp_globals[i] if i < len(cp_globals) else None
        p = pj_globals[i] if i < len(pj_globals) else None
        if c is None:
            if accepted:
                diffs.append("global-extra [%s]: picklejail reports global %d %s.%s @%s, CPython never "
                             "looks it up" % (_pj_op(p.get("opcode")), i, p.get("module"), p.get("name"),
                                              p.get("offset")))
            break
        ck = _gkey(c)
        if p is None:
            diffs.append("global-missing [%s]: CPython looks up %s.%s (-> %s.%s)%s, picklejail reports "
                         "only %d globals" % (_opn(c), ck[0], ck[1], ck[2], ck[3],
                                               " @%d" % c["off"] if "off" in c else "", len(pj_globals)))
            break
        if "ext" in str(_pj_origin(p)).lower():
            if (c["raw_module"], c["raw_name"]) not in EXT_CODES.values():
                diffs.append("global-ext [%s]: picklejail EXT global %d, CPython %s.%s"
                             % (_opn(c), i, ck[0], ck[1]))
                break
            continue
        pk = _pkey(p)
        if pk[:2] != ck[:2]:
            diffs.append("global-raw [%s]: global %d: CPython %s / %s%s, picklejail %s / %s @%s"
                         % (_opn(c), i, ck[0], ck[1], " @%d" % c["off"] if "off" in c else "",
                            pk[0], pk[1], p.get("offset")))
            break
        if c["module"] is not None and not c.get("failed") and pk[2:] != ck[2:]:
            diffs.append("global-resolved [%s]: global %d %s.%s: CPython resolves to %s.%s, picklejail "
                         "to %s.%s" % (_opn(c), i, ck[0], ck[1], ck[2], ck[3], pk[2], pk[3]))
            break
        if "off" in c and p.get("offset") is not None and p["offset"] not in (c["off"], c["off"] - base):
            diffs.append("global-offset [%s]: global %d %s.%s: CPython @%d, picklejail %s @%s"
                         % (_opn(c), i, ck[0], ck[1], c["off"], _pj_op(p.get("opcode")), p["offset"]))
            break
    kinds = CALL_KINDS if compare_build else CALL_KINDS - {"build"}
    cp_calls = [e for e in cp["events"] if e["ev"] == "call" and e["kind"] in kinds]
    pj_calls = [c for c in st.get("calls", [])
                if compare_build or _pj_op(c.get("opcode")) != "BUILD"]
    for i in range(max(len(cp_calls), len(pj_calls))):
        c = cp_calls[i] if i < len(cp_calls) else None
        p = pj_calls[i] if i < len(pj_calls) else None
        if c is None:
            if accepted:
                diffs.append("call-extra [%s]: picklejail reports call %d %s%s @%s, CPython makes only %d"
                             % (_pj_op(p.get("opcode")), i, p.get("callee"), p.get("args"),
                                p.get("offset"), len(cp_calls)))
            break
        if p is None:
            diffs.append("call-missing [%s]: CPython %s %s%s%s, picklejail reports only %d calls"
                         % (_opn(c), c["kind"], pj_escape(c["callee"]), pj_escape(c["args"]),
                            " @%d" % c["off"] if "off" in c else "", len(pj_calls)))
            break
        op = _pj_op(p.get("opcode"))
        if "op" in c:
            if OPNAMES.get(c["op"]) != op:
                diffs.append("call-opcode [%s]: call %d %s: CPython %s @%d, picklejail %s @%s"
                             % (_opn(c), i, pj_escape(c["callee"]), OPNAMES.get(c["op"]), c["off"], op,
                                p.get("offset")))
                break
            if p.get("offset") is not None and p["offset"] not in (c["off"], c["off"] - base):
                diffs.append("call-offset [%s]: call %d %s: CPython @%d, picklejail @%s"
                             % (_opn(c), i, pj_escape(c["callee"]), c["off"], p["offset"]))
                break
        elif op not in KIND_OPS[c["kind"]]:
            diffs.append("call-opcode [%s]: call %d %s: CPython %s, picklejail opcode %s"
                         % (c["kind"], i, pj_escape(c["callee"]), c["kind"], op))
            break
        if c["callee_global"] and c["kind"] != "build":
            if not callee_matches(pj_escape(c["callee"]), p.get("callee", "")):
                diffs.append("call-callee [%s]: call %d: CPython callee %s, picklejail %s"
                             % (_opn(c), i, pj_escape(c["callee"]), p.get("callee")))
                break
    return diffs


_EXT_BY_NAME = {"%s.%s" % mn: code for code, mn in EXT_CODES.items()}


def callee_matches(cp_callee, pj_callee):
    """A global callee must be named as CPython resolved it (an EXT target,
    which picklejail cannot know, by its registry code)."""
    if cp_callee in _EXT_BY_NAME:
        return pj_callee == "copyreg._extension_registry[%d]" % _EXT_BY_NAME[cp_callee]
    return pj_callee == cp_callee or pj_callee.replace(" ", "") == cp_callee.replace(" ", "")


_NOT_STOPS = {"PJ112", "PJ113", "PJ114", "PJ127", "PJ110", "PJ111", "PJ121", "PJ122", "PJ123"}


def _stop_reason(entry, index):
    """The first parse-error finding of a stream ("PJ109 INT"), or ""."""
    for f in entry.get("findings", []):
        code = str(f.get("code", ""))
        if f.get("stream") == index and code.startswith("PJ1") and code not in _NOT_STOPS:
            m = re.search(r"\(([A-Z_0-9]+) at offset", f.get("message", ""))
            return code + (" " + m.group(1) if m else "")
    return ""


def _tag(diff, stop):
    """Add the stop reason to a difference's kind (the part before ':'), so
    disagreements with different causes get different signatures."""
    if not stop or ":" not in diff:
        return diff
    kind, rest = diff.split(":", 1)
    return "%s after %s:%s" % (kind, stop, rest)


def compare_file(rec, entry):
    """Compare a recorder result with picklejail's JSON entry for the same file.
    Returns (compared_streams, diffs, notes)."""
    diffs, notes = [], []
    if "crash" in rec:
        return 0, [], ["recorder: " + rec["crash"]]
    if entry is None:
        return 0, ["picklejail produced no entry for the file"], notes
    streams = entry.get("streams", [])
    compare_build = any(_pj_op(c.get("opcode")) == "BUILD" for s in streams for c in s.get("calls", []))
    compared = 0
    loads = rec["file"]
    # the modes of CPython among themselves (information, not picklejail's fault)
    if loads and rec["loads"]["ok"] != loads[0]["ok"]:
        notes.append("pickle.loads %s but Unpickler(file).load %s"
                     % ("accepts" if rec["loads"]["ok"] else "rejects (%s)" % rec["loads"]["error"],
                        "accepts" if loads[0]["ok"] else "rejects (%s)" % loads[0]["error"]))
    py = rec.get("python", [])
    if loads and py and py[0]["ok"] != loads[0]["ok"]:
        notes.append("pure-Python unpickler %s but C unpickler %s"
                     % ("accepts" if py[0]["ok"] else "rejects (%s)" % py[0]["error"],
                        "accepts" if loads[0]["ok"] else "rejects (%s)" % loads[0]["error"]))
    for k, cp in enumerate(loads):
        if cp.get("error") == "Timeout":
            notes.append("load %d: CPython timed out" % k)
            break
        st = None
        for s in streams:
            # top-level streams only: "" or "#N@OFF" (not a nested pickle, a
            # container member or the pickle.loads view)
            if (s.get("offset") or 0) == cp["start"] and re.match(r"^(#\d+@\d+)?$", s.get("location", "")):
                st = s
                break
        if st is None and k == 0 and streams:
            st = streams[0]
        if st is None:
            if cp["ok"] or cp["events"]:
                fmt = entry.get("format")
                kind = "stream-missing" + (" (format %s)" % fmt if fmt != "pickle" else "")
                diffs.append(kind + ": load %d at offset %d (%s by CPython, %d events): "
                             "picklejail has no stream there"
                             % (k, cp["start"], "accepted" if cp["ok"] else "rejected", len(cp["events"])))
            continue
        d = compare_stream(cp, st, compare_build)
        if cp["ok"] and st.get("complete") is False:
            d.append("stream-incomplete: CPython accepts the stream, picklejail marks it incomplete")
        compared += 1
        stop = _stop_reason(entry, streams.index(st))
        diffs.extend(_tag(x, stop) + " (load %d @%d)" % (k, cp["start"]) for x in d)
    # pickle.loads (bytes in memory: frames are not re-read from a file).
    # picklejail adds a "(as read by pickle.loads)" stream where the two views
    # differ; otherwise its first stream stands for both.
    lo = rec.get("loads")
    if lo and loads and lo.get("error") != "Timeout" and streams:
        st = next((s for s in streams if s.get("location", "") == "(as read by pickle.loads)"
                   and (s.get("offset") or 0) == 0), None)
        if st is None and lo["ok"] == loads[0]["ok"] and not [
                x for x in diffs if "(load 0 " in x or "load 0 " in x]:
            st = streams[0]
        if st is not None:
            compared += 1
            d = compare_stream(lo, st, compare_build)
            diffs.extend("loads-%s (pickle.loads)" % x for x in d)
    return compared, diffs, notes


def describe_cpython(rec):
    lines = []
    for k, cp in enumerate(rec.get("file", [])):
        lines.append("load %d @%d-%d: %s" % (k, cp["start"], cp["end"],
                                             "accepted" if cp["ok"] else "rejected: " + str(cp["error"])))
        for e in cp["events"]:
            where = (" [%s @%d]" % (OPNAMES.get(e["op"]), e["off"])) if "op" in e else ""
            if e["ev"] == "global":
                lines.append("  global %s.%s -> %s.%s%s" % (e["raw_module"], e["raw_name"],
                                                            e["module"], e["name"], where))
            elif e["ev"] == "call":
                lines.append("  %s %s%s%s" % (e["kind"], e["callee"], e["args"], where))
            else:
                lines.append("  persid %s%s" % (e.get("pid"), where))
    if "loads" in rec:
        lines.append("pickle.loads: %s" % ("accepted" if rec["loads"]["ok"] else "rejected: "
                                            + str(rec["loads"]["error"])))
    return "\n".join(lines)


def describe_picklejail(entry):
    if entry is None:
        return "no entry"
    lines = ["verdict %s, format %s" % (entry.get("verdict"), entry.get("format"))]
    for s in entry.get("streams", []):
        lines.append("stream %r @%s len %s proto %s complete %s" % (
            s.get("location"), s.get("offset"), s.get("length"), s.get("protocol"), s.get("complete")))
        for g in s.get("globals", []):
            lines.append("  global %s.%s -> %s.%s [%s @%s, %s]" % (
                g.get("module"), g.get("name"), g.get("resolved_module"), g.get("resolved_name"),
                _pj_op(g.get("opcode")), g.get("offset"), g.get("origin")))
        for c in s.get("calls", []):
            lines.append("  call %s%s [%s @%s]" % (c.get("callee"), c.get("args"),
                                                   _pj_op(c.get("opcode")), c.get("offset")))
    for f in entry.get("findings", []):
        lines.append("finding %s %s @%s: %s" % (f.get("code"), f.get("severity"), f.get("offset"),
                                                f.get("message")))
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# The conformance corpus

def _sbu(s):
    b = s.encode("utf-8")
    return b"\x8c" + bytes([len(b)]) + b


def _binunicode(s):
    b = s.encode("utf-8")
    return b"X" + struct.pack("<I", len(b)) + b


def _glob(m, n, op=b"c"):
    return op + m.encode() + b"\n" + n.encode() + b"\n"


def _frame(body):
    return b"\x95" + struct.pack("<Q", len(body)) + body


class Plain:
    """Pickled by default: copyreg._reconstructor (proto < 2) or NEWOBJ + BUILD."""

    def __init__(self, a=1):
        self.a = a
        self.b = [a, "x"]


class WithNewArgs:
    def __init__(self, x):
        self.x = x

    def __getnewargs__(self):
        return (self.x,)


class WithNewArgsEx:
    def __new__(cls, x, *, y=0):
        o = super().__new__(cls)
        o.x, o.y = x, y
        return o

    def __getnewargs_ex__(self):
        return (self.x,), {"y": self.y}


class Slotted:
    __slots__ = ("p", "q")

    def __init__(self):
        self.p = 1
        self.q = "two"


class WithState:
    def __init__(self):
        self.v = 3

    def __getstate__(self):
        return {"v": self.v, "extra": (1, 2)}

    def __setstate__(self, st):
        self.__dict__.update(st)


class ReducesToCall:
    def __reduce__(self):
        return (getattr, (Outer, "Inner"))


class Outer:
    class Inner:
        pass


class ListSub(list):
    pass


class DictSub(dict):
    pass


def _stdlib_objects():
    import collections
    import datetime
    import decimal
    import fractions
    import functools
    import types
    import signal
    return [
        ("ordereddict", collections.OrderedDict([("a", 1), ("b", [1, 2])])),
        ("defaultdict", collections.defaultdict(list, {"k": [1]})),
        ("counter", collections.Counter("hello")),
        ("deque", collections.deque([1, 2, 3], maxlen=5)),
        ("datetime", datetime.datetime(2020, 1, 2, 3, 4, 5, 6)),
        ("date_td", (datetime.date(1999, 12, 31), datetime.timedelta(days=3, seconds=4))),
        ("decimal", decimal.Decimal("1.25")),
        ("fraction", fractions.Fraction(3, 7)),
        ("complex", complex(1, -2)),
        ("range_slice", (range(1, 10, 3), slice(1, 2, None))),
        ("partial", functools.partial(max, 1, key=abs)),
        ("namespace", types.SimpleNamespace(a=1, b="two")),
        ("enum", signal.Signals.SIGINT),
        ("functions", (len, os.path.join, max, collections.OrderedDict)),
        ("set_frozenset", ({1, 2, 3}, frozenset(["a", "b"]))),
        ("bytes_bytearray", (b"abc\x00\xff", bytearray(b"xyz"), b"")),
        ("plain", Plain(5)),
        ("newargs", WithNewArgs(7)),
        ("newargs_ex", WithNewArgsEx(8, y=9)),
        ("slotted", Slotted()),
        ("state", WithState()),
        ("reduces_to_call", ReducesToCall()),
        ("nested_class", (Outer.Inner, Outer)),
        ("list_dict_sub", (ListSub([1, 2]), DictSub(a=1))),
    ]


def _containers():
    shared = ["shared", 1]
    big = list(range(1500))
    nested = {"a": [shared, shared, {"b": (shared, 1.5)}], "c": {1, 2}, "d": frozenset([3])}
    rec = [1, 2]
    rec.append(rec)
    d = {}
    d["self"] = d
    return [
        ("scalars", (None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31 - 1,
                     2**31, 2**63, -2**63 - 1, 2**2100, -2**2100, 0.0, -1.5, float("inf"), 1e300)),
        ("strings", ("", "a", "é€𝄞", "x" * 300, "line\nbreak", "\\u1234")),
        ("nested_memo", nested),
        ("recursive_list", rec),
        ("recursive_dict", d),
        ("big_list", big),
        ("big_dict", {str(i): i for i in range(1200)}),
        ("tuples", ((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), ((),) * 3)),
        ("deep", [[[[[[["deep"]]]]]]]),
    ]


def _hand_streams():
    """Streams the pickler never writes: INST/OBJ/EXT/PERSID/dotted/py2 names/
    STACK_GLOBAL from the memo, PROTO changes, calls through call results."""
    H = []
    s = b"."
    H.append(("inst_noargs_p0", b"(" + _glob("os", "system", b"i") + b"."))
    H.append(("inst_args_p0", b"(S'echo hi'\n" + _glob("os", "system", b"i") + b"."))
    H.append(("inst_py2_p0", b"(" + _glob("__builtin__", "set", b"i") + b"."))
    H.append(("inst_p4", b"\x80\x04(" + _sbu("x") + _glob("__builtin__", "set", b"i") + b"."))
    H.append(("obj_p1", b"(" + _glob("subprocess", "Popen") + b"(S'ls'\nlo."))
    H.append(("obj_noargs_p1", b"(" + _glob("collections", "OrderedDict") + b"o."))
    H.append(("ext1", b"\x80\x02\x82\x01)R."))
    H.append(("ext2", b"\x80\x02\x83\x34\x12)\x81."))
    H.append(("ext4", b"\x80\x02\x84\x78\x56\x34\x12N\x85R."))
    H.append(("ext_unregistered", b"\x80\x02\x82\x07)R."))
    H.append(("persid_p0", b"(Pstorage_1\ntS'x'\n."))
    H.append(("binpersid_p2", b"\x80\x02(X\x07\x00\x00\x00storage" + _glob("torch", "FloatStorage")
                                + b"K\x00X\x03\x00\x00\x00cpuK\x04tQ."))
    H.append(("dotted_global_p4", b"\x80\x04" + _glob("pathlib", "os.system") + b"S'id'\n\x85R."))
    H.append(("dotted_global_p2", b"\x80\x02" + _glob("pathlib", "os.system") + b"S'id'\n\x85R."))
    H.append(("dotted_stack_global_p4", b"\x80\x04" + _sbu("torch") + _sbu("serialization.os.system")
                                        + b"\x93" + _sbu("id") + b"\x85R."))
    H.append(("dotted_locals_p4", b"\x80\x04" + _sbu("m") + _sbu("f.<locals>.g") + b"\x93."))
    H.append(("py2_builtin_eval_p0", _glob("__builtin__", "eval") + b"(S'1+1'\ntR."))
    H.append(("py2_builtin_eval_p2", b"\x80\x02" + _glob("__builtin__", "eval") + b"U\x031+1\x85R."))
    H.append(("py2_builtin_eval_p3", b"\x80\x03" + _glob("__builtin__", "eval") + b"U\x031+1\x85R."))
    H.append(("py2_xrange_p2", b"\x80\x02" + _glob("__builtin__", "xrange") + b"K\x03\x85R."))
    H.append(("py2_copy_reg_p1", _glob("copy_reg", "_reconstructor") + b"(" + _glob("__main__", "C")
                                 + _glob("__builtin__", "object") + b"NtR."))
    H.append(("py2_userdict_p2", b"\x80\x02" + _glob("UserDict", "UserDict") + b")R."))
    H.append(("py2_exceptions_p2", b"\x80\x02" + _glob("exceptions", "ValueError") + b"U\x01x\x85R."))
    H.append(("py2_unmapped_module_p2", b"\x80\x02" + _glob("cPickle", "loads") + b"."))
    H.append(("py2_stack_global_p2", b"\x80\x02" + _sbu("__builtin__") + _sbu("getattr") + b"\x93."))
    H.append(("stack_global_from_memo", b"\x80\x04" + _sbu("os") + b"\x94" + b"0" + _sbu("system")
                                        + b"\x94" + b"0" + b"h\x00h\x01\x93" + _sbu("id") + b"\x85R."))
    H.append(("put_memoize_mix", b"\x80\x04" + b"U\x02osq\x00" + b"0" + _sbu("torch._utils") + b"\x94"
                                 + b"0" + b"h\x00" + _sbu("system") + b"\x93" + b"N\x85R."))
    H.append(("stack_global_strings_p0", b"S'os'\nS'system'\n\x93S'ls'\n\x85R."))
    H.append(("getattr_chain", b"\x80\x04" + _sbu("builtins") + _sbu("getattr") + b"\x93" + b"\x94"
                               + _sbu("builtins") + _sbu("__import__") + b"\x93" + _sbu("os") + b"\x85R"
                               + _sbu("system") + b"\x86R" + _sbu("id") + b"\x85R."))
    H.append(("call_result_called", b"\x80\x02" + _glob("builtins", "getattr") + b"(" + _glob("builtins", "__builtins__")
                                    + b"X\x04\x00\x00\x00evaltRX\x03\x00\x00\x001+1\x85R."))
    H.append(("dup_callee", b"\x80\x02" + _glob("os", "system") + b"2X\x01\x00\x00\x00a\x85R0X\x01\x00\x00\x00b\x85R."))
    H.append(("memo_callee_reuse", b"\x80\x02" + _glob("os", "system") + b"q\x01" + b"0" + b"h\x01X\x01\x00\x00\x00a\x85R"
                                   + b"0h\x01X\x01\x00\x00\x00b\x85R."))
    H.append(("pop_discarded_call", b"(" + _sbu("smtplib") + _sbu("SMTP") + b"\x93" + _sbu("127.0.0.1")
                                    + b"o0N."))
    H.append(("build_on_call", b"\x80\x02" + _glob("collections", "OrderedDict") + b")R}X\x01\x00\x00\x00aK\x01sb."))
    H.append(("build_slotstate", b"\x80\x02" + _glob("pjmod", "Thing") + b")\x81N}X\x01\x00\x00\x00pK\x01s\x86b."))
    H.append(("build_on_global", b"\x80\x04" + _sbu("numpy") + _sbu("size") + b"\x93}" + _sbu("shape") + _sbu("x")
                                 + b"sb."))
    H.append(("newobj_ex_kwargs", b"\x80\x04" + _sbu("pjmod") + _sbu("K") + b"\x93" + _sbu("a") + b"\x85}"
                                  + _sbu("k") + b"K\x02s\x92."))
    H.append(("appends_on_call", b"\x80\x02" + _glob("pjmod", "L") + b")R(K\x01K\x02e."))
    H.append(("setitems_on_call", b"\x80\x02" + _glob("pjmod", "D") + b")R(K\x01K\x02u."))
    H.append(("additems_on_call", b"\x80\x04" + _sbu("pjmod") + _sbu("S") + b"\x93)R(K\x01\x90."))
    H.append(("proto_change_2_to_3", b"\x80\x02" + _glob("__builtin__", "len") + b"0\x80\x03"
                                     + _glob("__builtin__", "len") + b"."))
    H.append(("proto_change_4_to_2", b"\x80\x04" + _glob("a", "b.c") + b"0\x80\x02" + _glob("a", "d") + b"."))
    H.append(("payload_then_garbage", b"\x80\x02" + _glob("os", "system") + b"U\x02id\x85R\xff\xfe\xfd"))
    H.append(("payload_then_underflow", b"\x80\x02" + _glob("os", "system") + b"U\x02id\x85R0R."))
    H.append(("two_pickles", b"\x80\x02" + _glob("os", "getcwd") + b")R." + b"\x80\x02" + _glob("os", "listdir") + b")R."))
    H.append(("three_pickles_p0", b"N." + b"cos\ngetpid\n)R." + b"I1\n."))
    H.append(("framed", b"\x80\x04" + _frame(_sbu("os") + _sbu("system") + b"\x93" + _sbu("id") + b"\x85R.")))
    # C Unpickler on a file drops what is left of a frame when an argument
    # straddles its end and re-reads the whole argument after it.
    H.append(("frame_straddle", b"\x80\x05" + _frame(_sbu("builtins") + b"\x8c\x03l") + b"len\x93"
                                + _sbu("ab") + b"\x85R."))
    H.append(("frame_straddle_hidden", b"\x80\x05" + _frame(_sbu("builtins") + _sbu("len") + b"\x8c\x0aNNNN")
                                       + b"abcdefghij0\x93" + _sbu("id") + b"\x85R."))
    H.append(("frame_nested", b"\x80\x05" + _frame(_frame(_glob("os", "getpid") + b")R."))))
    H.append(("frame_then_unframed", b"\x80\x04" + _frame(_sbu("os") + _sbu("getpid")) + b"\x93)R."))
    H.append(("bytes_proto2_codecs", b"\x80\x02" + _glob("_codecs", "encode") + b"X\x02\x00\x00\x00ab"
                                     + b"X\x06\x00\x00\x00latin1\x86R."))
    H.append(("long_forms_p0", b"(L123L\nL-5\nI01\nI00\nI7\nF1.5\ntN."))
    H.append(("binstring_forms", b"(T\x02\x00\x00\x00abU\x01cS\"d\"\nV\\u00e9\ntN."))
    H.append(("buffers_p5", b"\x80\x05\x97\x97\x98\x86" + _glob("builtins", "bytes") + b"N\x85R\x86."))
    H.append(("bytearray8", b"\x80\x05\x96" + struct.pack("<Q", 3) + b"abc."))
    H.append(("binbytes8", b"\x80\x05\x8e" + struct.pack("<Q", 2) + b"xy\x8d" + struct.pack("<Q", 1) + b"z\x86."))
    H.append(("long1_long4", b"\x80\x02\x8a\x01\xff\x8b\x02\x00\x00\x00\x00\x80\x86."))
    H.append(("empty_set_frozenset", b"\x80\x04\x8f(K\x01K\x02\x90(K\x03\x91\x86."))
    H.append(("dict_list_forms", b"(dp0\nS'a'\np1\n(lp2\nI1\naI2\nasg1\ng2\ns."))
    H.append(("unicode_global_names", b"\x80\x04" + _sbu("modé") + _sbu("nämé") + b"\x93."))
    H.append(("global_non_ascii", b"c\xc3\xa9\nx\n."))
    H.append(("global_bad_utf8", b"c\xff\nx\n."))
    H.append(("stack_global_not_str", b"\x80\x04K\x01" + _sbu("x") + b"\x93."))
    H.append(("reduce_args_not_tuple", b"\x80\x02" + _glob("os", "system") + b"]R."))
    H.append(("newobj_args_not_tuple", b"\x80\x02" + _glob("pjmod", "C") + b"N\x81."))
    H.append(("inst_then_build", b"(" + _glob("pjmod", "Obj", b"i") + b"(dS'k'\nI1\nsb."))
    H.append(("global_in_args", b"\x80\x02" + _glob("builtins", "map") + _glob("os", "system")
                                + b"]\x86R."))
    H.append(("mark_then_reduce_in_list", b"\x80\x02](" + _glob("os", "getpid") + b")R" + _glob("os", "getppid")
                                          + b")Re."))
    H.append(("proto6", b"\x80\x06N."))
    # Literal and memo edge cases, each followed by a payload: if picklejail
    # stops where CPython goes on, the payload's global and call go missing.
    pay = b"cos\nsystem\n(S'id'\ntR."
    lits = {
        "int_space": b"I 1\n", "int_plus": b"I+1\n", "int_hex": b"I0x10\n", "int_octal": b"I010\n",
        "int_minus_zero": b"I-0\n", "int_trailing_space": b"I1 \n", "int_underscore": b"I1_0\n",
        "int_big": b"I99999999999999999999999\n", "int_big_hex": b"I0xffffffffffffffffffff\n",
        "int_empty": b"I\n", "int_01": b"I01\n", "int_00": b"I00\n", "int_crlf": b"I1\r\n",
        "long_space": b"L 1L\n", "long_underscore": b"L1_0L\n", "long_hex": b"L0x10L\n",
        "long_no_L": b"L12\n", "long_trailing_space": b"L12 \n", "long_empty": b"L\n",
        "float_nan": b"Fnan\n", "float_inf": b"F-inf\n", "float_space": b"F 1.5\n",
        "float_underscore": b"F1_0\n", "float_exp": b"F1e5\n", "float_empty": b"F\n",
        "string_unquoted": b"Sabc\n", "string_mismatched": b"S'abc\"\n", "string_escapes": b"S'a\\x41\\n'\n",
        "string_one_quote": b"S'\n", "unicode_bad_escape": b"V\\u12\n", "unicode_escape": b"V\\u00e9\\x41\n",
        "binstring_negative": b"T\xff\xff\xff\xff", "binunicode_huge": b"X\xff\xff\xff\x7f",
        "put_negative": b"N" + b"p-1\n", "put_space": b"N" + b"p 1\n", "get_unset": b"g7\n",
        "put_plus": b"Np+1\n", "binput_then_get": b"Nq\x05" + b"0" + b"h\x05",
        "memoize_after_put": b"Np5\n0N\x94" + b"0" + b"h\x01",
        "dup_after_mark": b"(2", "pop_mark_on_empty": b"(0N", "pop_mark_op": b"(NN1N",
        "tuple_empty_mark": b"(t", "list_after_mark": b"(l", "dict_odd": b"(NNNd",
        "frame_zero": b"\x95" + b"\x00" * 8 + b"N", "proto_twice": b"\x80\x02\x80\x04N",
        "long1_empty": b"\x8a\x00", "long4_negative": b"\x8b\xff\xff\xff\xff",
        "binint_forms": b"J\xff\xff\xff\xffK\x00M\xff\xff\x86",
        "empty_appends_list": b"](e", "empty_setitems_dict": b"}(u", "empty_additems_set": b"\x8f(\x90",
        "setitems_odd": b"}(NNNu", "global_crlf": b"cos\r\nsystem\r\n", "global_space": b"c os\nsystem\n",
        "global_empty_name": b"cos\n\n", "inst_no_mark": b"ios\nsystem\n",
        "persid_text": b"Pabc\n", "binpersid_int": b"K\x01Q",
        "ext_zero": b"\x82\x00", "ext4_negative": b"\x84\xff\xff\xff\xff",
        "stop_inside_mark": b"(N", "reduce_none_args": b"cbuiltins\nlen\nNR",
        "newobj_non_type": b"S'x'\n)\x81", "build_dict_on_str": b"S'x'\n}(S'a'\nNub",
        "obj_noargs_on_str": b"(S'x'\no",
    }
    for name, body in lits.items():
        H.append(("edge_" + name, body + b"0" + pay))
    return H


def generate_corpus():
    """[(name, bytes)]: pickle.dumps of containers and stdlib objects in every
    protocol, then the hand-made streams."""
    out = []
    objs = _containers() + _stdlib_objects()
    for name, obj in objs:
        for proto in range(0, 6):
            try:
                data = pickle.dumps(obj, protocol=proto)
            except Exception:
                continue
            out.append(("%s_p%d" % (name, proto), data))
        # the pure-Python pickler emits the same opcodes but frames differently
        try:
            out.append(("%s_pyp4" % name, pickle._dumps(obj, protocol=4)))
        except Exception:
            pass
    # out-of-band buffers (NEXT_BUFFER / READONLY_BUFFER)
    bufs = []
    out.append(("oob_buffers_p5", pickle.dumps([pickle.PickleBuffer(b"ro"), pickle.PickleBuffer(bytearray(b"rw"))],
                                               protocol=5, buffer_callback=bufs.append)))
    out.extend(_hand_streams())
    return out


def write_corpus(outdir):
    os.makedirs(outdir, exist_ok=True)
    names = []
    for name, data in generate_corpus():
        p = os.path.join(outdir, name + ".pkl")
        with open(p, "wb") as fh:
            fh.write(data)
        names.append(p)
    return names


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record", help="record CPython's behaviour for files (JSON list)")
    r.add_argument("--timeout", type=int, default=3)
    r.add_argument("paths", nargs="*")
    g = sub.add_parser("gen", help="write the conformance corpus")
    g.add_argument("outdir")
    sh = sub.add_parser("show", help="show CPython's and picklejail's view of files")
    sh.add_argument("paths", nargs="+")
    a = ap.parse_args(argv)
    if a.cmd == "record":
        try:
            import resource
            resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
        except (ImportError, ValueError, OSError):
            pass
        sys.setrecursionlimit(3000)
        json.dump(record_files(a.paths, a.timeout), sys.stdout)
        return 0
    if a.cmd == "gen":
        for p in write_corpus(a.outdir):
            print(p)
        return 0
    if a.cmd == "show":
        recs = record_in_child(a.paths)
        entries, err = picklejail_scan(a.paths)
        for p, rec, ent in zip(a.paths, recs, entries or [None] * len(a.paths)):
            print("==", p)
            print("-- CPython\n" + describe_cpython(rec))
            print("-- picklejail\n" + describe_picklejail(ent))
            c, d, n = compare_file(rec, ent)
            for x in n:
                print("note:", x)
            for x in d:
                print("DIFF:", x)
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
