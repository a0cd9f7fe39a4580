"""One similar-case archive in memory: hnswlib cosine graphs per mode, the case table, thumbnails.

Row ``i`` of the case table is label ``i`` in every graph; a case without a report has no text
vector and is absent from the text graph, and likewise for images. Vectors are L2-normalised
model embeddings, so the similarity reported is the cosine ``1 - hnswlib distance``.
"""
from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import SimilarIndexError
from engine.similar.store import (MODES, graph_file, read_archive_folder, write_archive_folder)

log = logging.getLogger(__name__)

SPACE = "cosine"
DEFAULT_M = 16
DEFAULT_EF_CONSTRUCTION = 200
DEFAULT_EF = 100
THUMBNAIL_SIZE = 96
THUMBNAIL_QUALITY = 85  # JPEG: ~1.8 kB per 96-px radiograph thumbnail (zlib'd raw pixels: ~5.8 kB)


@dataclass
class CaseArchive:
    """The searchable cases of one archive (the pack's reference set or a user's studies).

    Attributes
    ----------
    dim
        Embedding size.
    cases
        The case table: one dict per row with at least ``id`` and ``labels``; optional ``study``
        (StudyInstanceUID or data-set study id), ``sha256`` (of the source file), ``view``,
        ``sections`` ({name: text}), ``label_source``, ``path``.
    thumbnails
        One JPEG-encoded ``S × S`` greyscale thumbnail per case (letterboxed, black bars); see
        :meth:`thumbnail`.
    graphs
        ``{mode: hnswlib.Index}`` for the modes that have vectors.
    model
        Identity of the model that made the vectors (pack name, version, weights sha256).
    M, ef_construction, ef
        hnswlib graph degree, build-time and query-time candidate list sizes.
    """

    dim: int
    cases: list[dict] = field(default_factory=list)
    thumbnails: list[bytes] = field(default_factory=list)
    graphs: dict = field(default_factory=dict)
    model: dict = field(default_factory=dict)
    M: int = DEFAULT_M
    ef_construction: int = DEFAULT_EF_CONSTRUCTION
    ef: int = DEFAULT_EF
    thumbnail_size: int = THUMBNAIL_SIZE

    @property
    def count(self) -> int:
        """Number of cases."""
        return len(self.cases)

    def mode_counts(self) -> dict[str, int]:
        """Number of vectors per mode."""
        return {mode: graph.get_current_count() for mode, graph in self.graphs.items()}

    def add(self, cases: list[dict], embeddings: list[dict[str, np.ndarray]], thumbnails: np.ndarray) -> None:
        """Append cases with their per-mode embeddings and thumbnails (existing graphs grow in place).

        Parameters
        ----------
        cases
            New case-table rows.
        embeddings
            One ``{mode: (dim,) float array}`` per case, holding the modes it has.
        thumbnails
            ``(len(cases), S, S)`` uint8.
        """
        import hnswlib

        if not (len(cases) == len(embeddings) == len(thumbnails)):
            raise SimilarIndexError(f"{len(cases)} cases, {len(embeddings)} embeddings and "
                                    f"{len(thumbnails)} thumbnails do not match")
        start = self.count
        for mode in MODES:
            rows = [i for i, vectors in enumerate(embeddings) if mode in vectors]
            if not rows:
                continue
            data = np.stack([np.asarray(embeddings[i][mode], np.float32) for i in rows])
            if data.shape[1] != self.dim:
                raise SimilarIndexError(f"{mode} embeddings have {data.shape[1]} values, the index {self.dim}",
                                        hint="the index was made by a different model; rebuild it")
            graph = self.graphs.get(mode)
            if graph is None:
                graph = hnswlib.Index(space=SPACE, dim=self.dim)
                graph.init_index(max_elements=len(rows), M=self.M, ef_construction=self.ef_construction,
                                 random_seed=100)
                self.graphs[mode] = graph
            else:
                graph.resize_index(graph.get_current_count() + len(rows))
            graph.set_num_threads(1)  # one thread: the graph is then the same on every run
            graph.add_items(data, np.asarray(rows, np.int64) + start)
            graph.set_ef(self.ef)
        self.cases.extend(cases)
        self.thumbnails.extend(encode_thumbnail(np.asarray(t, np.uint8)) for t in thumbnails)

    def thumbnail(self, row: int) -> np.ndarray:
        """Return the ``(S, S)`` uint8 thumbnail of a case."""
        from PIL import Image as PILImage
        with PILImage.open(io.BytesIO(self.thumbnails[row])) as image:
            return np.asarray(image.convert("L"), np.uint8)

    def search(self, mode: str, vector: np.ndarray, k: int, exclude: set[int] = frozenset()) -> list[tuple[int, float]]:
        """Return up to ``k`` ``(row, cosine similarity)`` pairs, most similar first, skipping ``exclude`` rows.

        Excluded rows are over-fetched and dropped, so the result is the true top ``k`` of the rest
        (up to the graph's approximation).
        """
        graph = self.graphs.get(mode)
        if graph is None or k <= 0:
            return []
        available = graph.get_current_count()
        fetch = min(available, k + len(exclude))
        if fetch == 0:
            return []
        graph.set_ef(max(self.ef, fetch))
        labels, distances = graph.knn_query(np.asarray(vector, np.float32)[None], k=fetch, num_threads=1)
        hits = [(int(row), float(1.0 - dist)) for row, dist in zip(labels[0], distances[0]) if int(row) not in exclude]
        return hits[:k]

    def rows_matching(self, study: str | None = None, sha256: str | None = None,
                      ids: tuple[str, ...] = ()) -> set[int]:
        """Rows whose study id, source-file sha256 or case id matches (the query's own study)."""
        wanted_ids = set(ids)
        return {row for row, case in enumerate(self.cases)
                if (study and case.get("study") == study) or (sha256 and case.get("sha256") == sha256)
                or case.get("id") in wanted_ids}

    def vectors(self, mode: str) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(rows, (n, dim) float32 vectors)`` stored in the ``mode`` graph (for evaluation)."""
        graph = self.graphs.get(mode)
        if graph is None:
            return np.zeros(0, np.int64), np.zeros((0, self.dim), np.float32)
        rows = np.asarray(sorted(graph.get_ids_list()), np.int64)
        return rows, np.asarray(graph.get_items(rows), np.float32)

    def meta(self) -> dict:
        """The index.json description (without ``files``)."""
        return {"space": SPACE, "dim": self.dim, "count": self.count, "modes": self.mode_counts(),
                "M": self.M, "ef_construction": self.ef_construction, "ef": self.ef,
                "thumbnail_size": self.thumbnail_size, "model": self.model}

    def save(self, folder: str | Path) -> dict:
        """Write the archive into a new folder (see :mod:`engine.similar.store`); return index.json's content."""
        return write_archive_folder(Path(folder), self.meta(), self.graphs, self.cases, self.thumbnails)

    @classmethod
    def load(cls, folder: str | Path, verify: bool = True) -> "CaseArchive":
        """Load an archive folder written by :meth:`save`.

        Raises
        ------
        SimilarIndexError
            When the folder is missing, damaged or inconsistent.
        """
        import hnswlib

        folder = Path(folder)
        meta, cases, thumbnails = read_archive_folder(folder, verify=verify)
        try:
            archive = cls(dim=int(meta["dim"]), cases=cases, thumbnails=thumbnails, model=meta.get("model", {}),
                          M=int(meta["M"]), ef_construction=int(meta["ef_construction"]), ef=int(meta["ef"]),
                          thumbnail_size=int(meta.get("thumbnail_size", THUMBNAIL_SIZE)))
            for mode, count in meta["modes"].items():
                if mode not in MODES:
                    raise KeyError(f"unknown mode {mode!r}")
                graph = hnswlib.Index(space=SPACE, dim=archive.dim)
                graph.load_index(str(folder / graph_file(mode)), max_elements=int(count))
                graph.set_ef(archive.ef)
                if graph.get_current_count() != int(count):
                    raise ValueError(f"{mode} graph holds {graph.get_current_count()} vectors, index.json {count}")
                archive.graphs[mode] = graph
        except (KeyError, ValueError, TypeError, RuntimeError) as error:
            raise SimilarIndexError(f"the index cannot be loaded ({error})", path=folder,
                                    hint="the index is damaged or from another version; rebuild it") from error
        return archive


def make_thumbnail(image01: np.ndarray, size: int = THUMBNAIL_SIZE) -> np.ndarray:
    """Return a ``(size, size)`` uint8 thumbnail of a [0, 1] display image, aspect kept, black bars.

    Colour ``(rows, cols, 3)`` input is averaged to grey.
    """
    from PIL import Image as PILImage

    array = np.asarray(image01, np.float32)
    if array.ndim == 3:
        array = array.mean(axis=2)
    grey = PILImage.fromarray(np.round(np.clip(array, 0.0, 1.0) * 255).astype(np.uint8))
    grey.thumbnail((size, size), PILImage.Resampling.LANCZOS, reducing_gap=2.0)
    canvas = PILImage.new("L", (size, size), 0)
    canvas.paste(grey, ((size - grey.width) // 2, (size - grey.height) // 2))
    return np.asarray(canvas, np.uint8)


def encode_thumbnail(thumbnail: np.ndarray) -> bytes:
    """JPEG-encode a uint8 greyscale thumbnail (deterministic for the same pixels)."""
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.fromarray(np.ascontiguousarray(thumbnail, np.uint8)).save(buffer, format="JPEG", quality=THUMBNAIL_QUALITY)
    return buffer.getvalue()
