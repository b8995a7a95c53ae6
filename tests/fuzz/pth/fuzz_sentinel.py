"""A module no .pth file may ever import: tests/fuzz/pth/fuzz.py puts this folder on sys.path, seeds the
corpus with a pickle that names fuzz_sentinel.boom, and fails if this code ever runs."""
import builtins

builtins.FUZZ_SENTINEL_IMPORTED = True


def boom(*args):
    builtins.FUZZ_SENTINEL_CALLED = True
