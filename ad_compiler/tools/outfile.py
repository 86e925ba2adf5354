"""Writing the CLI's output files: only regular files, never an input, atomically.

Every command that writes a file (``adc compile -o``, ``adc graph -o``,
``adc swell --plot``) goes through :func:`check_target` before its work and
:func:`write` after it.  Guarantees:

* the target is a regular file or does not exist yet.  A directory, a FIFO, a
  socket, a device node (``/dev/null`` included: to discard the output, leave
  out ``-o`` and redirect stdout) and a symbolic link are refused with a
  :class:`UsageError` (exit status 2) naming what the target is.  A link is
  refused rather than followed: writing through it would change a file the
  command line does not name;
* the target is none of the command's input files, compared by device and
  inode (``st_dev``/``st_ino``), so another spelling of the path, a symbolic
  link to an input or a hard link to it are all recognised;
* the data is written to a temporary file beside the target, which then
  replaces it with one ``os.replace``: a reader sees the old file or the new
  one, never a part.  The temporary file is removed when anything fails,
  Ctrl-C (``KeyboardInterrupt``) included;
* a replaced file keeps its permission bits; a new one gets ``0o666`` less the
  umask, as ``open()`` would give it.
"""

from __future__ import annotations

import os
import stat
import tempfile

from ad_compiler.errors import UsageError
from ad_compiler.escape import printable

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISLNK, "a symbolic link"),
)


def check_target(path: str, inputs=(), option: str = "-o") -> None:
    """Raise :class:`UsageError` unless ``path`` may be written (see the module)."""
    shown = printable(path)
    if not path:
        raise UsageError(f"{option} needs a file name")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise UsageError(f"cannot write {shown}: {exc.strerror}") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        kind = next((k for test, k in _KINDS if test(st.st_mode)), "not a regular file")
        raise UsageError(
            f"{option} {shown} is {kind}; adc writes only regular files"
            + ("" if kind != "a symbolic link" else ", never through a link")
        )
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"the folder of {option} {shown} does not exist")
    if st is None:
        return
    for source in inputs:
        try:
            other = os.stat(source)  # through links: the file the input really is
        except OSError:
            continue
        if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
            raise UsageError(
                f"refusing to overwrite the input file {printable(source)} "
                f"({option} {shown} is the same file, maybe through a link)"
            )


def write(path: str, data: bytes, inputs=(), option: str = "-o") -> None:
    """Write ``data`` to ``path`` atomically after :func:`check_target` (again: the
    work before may have taken long).  Raises :class:`UsageError` when it cannot."""
    check_target(path, inputs, option)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".adc-", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise UsageError(f"cannot write {printable(path)}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)  # mkstemp made it 0600
        os.replace(tmp, path)
    except BaseException as exc:
        _remove(tmp)
        if isinstance(exc, OSError):
            raise UsageError(
                f"cannot write {printable(path)}: {exc.strerror or exc}"
            ) from None
        raise


def _remove(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
