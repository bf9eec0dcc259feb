"""Run configurations: the C library's INI configs as a Python mapping of 'section.key'."""

import ctypes as C
import os

from . import _lib
from ._lib import call, lib

_HERE = os.path.dirname(os.path.abspath(__file__))


def _keys():
    out, i = {}, 0
    sec, key, hlp = C.c_char_p(), C.c_char_p(), C.c_char_p()
    while lib.blorc_config_key(i, C.byref(sec), C.byref(key), C.byref(hlp)):
        out[f"{sec.value.decode()}.{key.value.decode()}"] = hlp.value.decode()
        i += 1
    return out


KEYS = _keys()  # 'section.key' -> help text, in the C table's order


def config_dirs():
    """Where named configs are looked up: the package's copy, then a source checkout's."""
    return [os.path.join(_HERE, "share", "blorc-gpu", "configs"),
            os.path.normpath(os.path.join(_HERE, "..", "..", "configs"))]


def _key_for(name):
    """'train.batch', 'train_batch' or an unambiguous bare key ('batch') -> 'train.batch'."""
    if name in KEYS:
        return name
    for full in KEYS:
        sec, key = full.split(".")
        if name == f"{sec}_{key}":
            return full
    matches = [full for full in KEYS if full.split(".")[1] == name]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise TypeError(f"config key {name!r} is ambiguous: write one of "
                        f"{', '.join(m.replace('.', '_') for m in matches)}")
    raise TypeError(f"unknown config key {name!r}; keys are {', '.join(KEYS)}")


def _text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


class Config:
    """A blorc_config: the built-in default, then a file or named config, then overrides.
    Read and set keys as cfg['train.batch']; str(cfg) is INI text."""

    def __init__(self, config=None, overrides=None, **kw):
        self._c = _lib.Config()
        lib.blorc_config_defaults(C.byref(self._c))
        if config is not None:
            self.load(config)
        for k, v in dict(overrides or {}, **kw).items():
            self[k] = v

    def load(self, config):
        """A path to an INI file, or the name of a shipped config ('paper-piecewise')."""
        path = os.fspath(config)
        if not os.path.exists(path) and os.sep not in path and not path.endswith(".ini"):
            for d in config_dirs():
                if os.path.exists(os.path.join(d, path + ".ini")):
                    path = os.path.join(d, path + ".ini")
                    break
        call("blorc_config_load", C.byref(self._c), path.encode())

    def __setitem__(self, name, value):
        key = _key_for(name)
        call("blorc_config_set", C.byref(self._c), key.encode(), _text(value).encode(),
             f"blorc.Config[{key!r}]".encode())

    def __getitem__(self, name):
        key = _key_for(name)
        buf = C.create_string_buffer(1024)
        call("blorc_config_get", C.byref(self._c), key.encode(), buf, len(buf))
        text = buf.value.decode()
        for conv in (int, float):
            try:
                return conv(text)
            except ValueError:
                pass
        return {"true": True, "false": False}.get(text, text)

    def keys(self):
        return list(KEYS)

    def as_dict(self):
        return {k: self[k] for k in KEYS}

    def check(self):
        """Raises ValueError naming the key when a value is out of range."""
        call("blorc_config_check", C.byref(self._c))

    @property
    def struct(self):
        return self._c

    def __str__(self):
        lines, section = [], None
        for k in KEYS:
            sec, key = k.split(".")
            if sec != section:
                lines.append(f"[{sec}]")
                section = sec
            lines.append(f"{key} = {self[k]}")
        return "\n".join(lines) + "\n"

    def __repr__(self):
        return f"blorc.Config({self.as_dict()!r})"
