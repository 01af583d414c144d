"""The ``directory`` protocol: every XML file under a folder is one record.

Used by the demo (real records bundled under ``config/demo/``) and for catalogues published as a folder
of files (a mounted WAF mirror, an export). Files are read in sorted order so runs are reproducible.
A file's path below the folder is its native id hint: the crosswalk prefers the record's own identifier
and uses the path only for a record that has none. The checkpoint is the last path of a page: a resumed
listing goes on with the paths after it, even if files were added or removed meanwhile.

Only files inside the folder are read: a symbolic link (to a file, or a linked folder's files) that leads
outside it is skipped with a note, so a folder an administrator may drop files into cannot make the
harvester read ``/etc/shadow`` or another pole's records. Folders reached through links are not entered.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from harvester.protocols import ListingError, Page, Protocol
from harvester.raw import RawRecord

_SUFFIXES = {".xml"}


class Directory(Protocol):
    name = "directory"

    def pages(self) -> Iterator[Page]:
        self.filtered = False  # a folder has no query: every listing is complete
        root = Path(self.source.path or "")
        if not root.is_dir():
            raise ListingError(f"{root}: not a readable directory")
        try:
            base = root.resolve()
            found = (p for p in root.rglob("*") if p.suffix.lower() in _SUFFIXES and p.is_file())
            files, outside = [], []
            for path in sorted(found, key=lambda path: str(path.relative_to(root))):
                (files if path.resolve().is_relative_to(base) else outside).append(path)
        except OSError as exc:
            raise ListingError(f"{root}: cannot list the directory: {exc.strerror}") from None
        notes = [
            f"{path.relative_to(root)}: a link to {path.resolve()}, outside the folder; not read"
            for path in outside
        ]
        size = self.source.page_size
        first = 0
        if self.resume and "after" in self.resume:
            after = str(self.resume["after"])
            first = next(
                (i for i, path in enumerate(files) if str(path.relative_to(root)) > after), len(files)
            )
        if first >= len(files) and notes:
            yield Page(records=[], matched=len(files), position="no file", notes=notes)
        for start in range(first, len(files), size):
            records = [self._read(path, root) for path in files[start : start + size]]
            yield Page(
                records=records,
                matched=len(files),
                position=f"file {start + 1} of {len(files)}",
                received_bytes=sum(len(r.content) for r in records),
                notes=notes if start == first else [],
                checkpoint={"after": records[-1].locator},
            )

    def _read(self, path: Path, root: Path) -> RawRecord:
        try:
            content = path.resolve().read_bytes()  # the checked target, not the link a swap could change
        except OSError as exc:
            raise ListingError(f"{path}: cannot read: {exc.strerror}") from None
        relative = str(path.relative_to(root))
        return RawRecord(
            source_id=self.source.id,
            format=self.source.format,
            content=content,
            native_id=relative,
            locator=relative,
        )
