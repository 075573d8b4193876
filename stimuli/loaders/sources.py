"""Map sources: one importance map per image, whatever format the maps come in.

``open_map_source(name, path)`` looks at ``path`` and returns a :class:`MapSource` whose
:class:`MapRef` entries are cheap to pickle, so that worker processes (or a dask cluster)
load each map themselves instead of receiving arrays.

==========================================  ===========================================
path                                        read as
==========================================  ===========================================
folder of ``.png``/``.npy``/… maps          one greyscale map per image, by file stem
                                            (ClickMe heatmaps, SALICON maps, any source)
folder of ``.mat`` files                    SALICON fixations, one file per image
map folder written by reveal (``maps.json``)  its one source's ``.npy`` maps (``reveal maps
                                            attention``, ``reveal maps teacher predict``);
                                            the index entry (how the maps were made) is
                                            kept as the source's ``provenance``
``.csv``                                    ClickMe click dump
``.npz``                                    ClickMe click dump
``.json``                                   SALICON 2015 fixation annotations
==========================================  ===========================================
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...core.errors import InputError
from ...core.mapfiles import INDEX, read_index
from . import clickme, salicon
from .images import MAP_SUFFIXES, files_by_stem, read_map_file

__all__ = ["MapRef", "MapSource", "open_map_source"]


@dataclass(frozen=True)
class MapRef:
    """How to load the map of one image from one source.

    Attributes
    ----------
    source, image_id : str
    path : Path
        The file the map comes from (named in errors; hashed when ``per_image``).
    kind : {'file', 'clicks', 'fixations'}
    points : tuple of ndarray
        Clicks per participant ([x, y]) or pooled fixations ([row, col], 0-based).
    shape : tuple of int
        (H, W) the points refer to.
    per_image : bool
        True when ``path`` holds this image's map alone.
    """

    source: str
    image_id: str
    path: Path
    kind: str
    points: tuple = ()
    shape: tuple = ()
    per_image: bool = True

    @property
    def has_points(self) -> bool:
        """True for clicks and fixations (:meth:`points_rc` gives them); False for a map file."""
        return self.kind in ("clicks", "fixations")

    def points_rc(self):
        """The image's points pooled over people, as fixations are given.

        Returns
        -------
        points : ndarray of int64, shape (N, 2)
            0-based ``[row, col]`` (clicks, stored ``[x, y]``, are swapped).
        shape : tuple of int
            (H, W) the points refer to.
        """
        if self.kind == "clicks":
            pts = [np.asarray(p, dtype=np.int64).reshape(-1, 2)[:, ::-1] for p in self.points]
            return (np.concatenate(pts) if pts else np.empty((0, 2), np.int64)), tuple(self.shape)
        if self.kind == "fixations":
            if self.per_image:
                return salicon.read_salicon_mat(self.path)
            return np.asarray(self.points[0], dtype=np.int64).reshape(-1, 2), tuple(self.shape)
        raise ValueError(f"a {self.kind!r} map has no points")

    def load(self):
        """The importance map, float64 (H, W), at the resolution it comes in."""
        if self.kind == "file":
            return read_map_file(self.path)
        if self.kind == "clicks":
            return clickme.clicks_to_map(list(self.points), self.shape)
        if self.kind == "fixations":
            if self.per_image:
                fix, shape = salicon.read_salicon_mat(self.path)
            else:
                fix, shape = self.points[0], self.shape
            if len(fix) == 0:
                raise InputError(f"no fixations inside the image for {self.image_id}", self.path)
            return salicon.fixation_map(fix, shape)
        raise ValueError(f"unknown map kind {self.kind!r}")


@dataclass
class MapSource:
    """The maps of one source: ``refs[image_id] -> MapRef``, plus files shared by all maps."""

    name: str
    path: Path
    format: str
    refs: dict = field(default_factory=dict)
    shared_files: tuple = ()
    provenance: dict | None = None


def open_map_source(name, path):
    """Open the maps of one source (see the module docstring for the formats).

    Parameters
    ----------
    name : str
        Map source name, e.g. ``clickme`` or ``salicon``.
    path : path-like

    Returns
    -------
    MapSource
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"maps for source {name!r} not found", path)
    if path.is_dir() and (path / INDEX).is_file():
        return _reveal_map_folder(name, path)
    if path.is_dir():
        mats = files_by_stem(path, (".mat",))
        if mats:
            refs = {s: MapRef(name, s, p, "fixations") for s, p in mats.items()}
            return MapSource(name, path, "salicon-mat", refs)
        files = files_by_stem(path, MAP_SUFFIXES)
        if not files:
            raise InputError(f"no map files ({', '.join(MAP_SUFFIXES)} or .mat) for source {name!r}", path)
        return MapSource(name, path, "map-files", {s: MapRef(name, s, p, "file") for s, p in files.items()})
    suffix = path.suffix.lower()
    if suffix in (".csv", ".npz"):
        dump = clickme.read_click_csv(path) if suffix == ".csv" else clickme.read_click_npz(path)
        refs = {i: MapRef(name, i, path, "clicks", tuple(dump.points(i)), dump.shape, per_image=False)
                for i in dump.image_ids()}
        return MapSource(name, path, f"clickme-{suffix[1:]}", refs, (path,))
    if suffix == ".json":
        refs = {i: MapRef(name, i, path, "fixations", (fix,), shape, per_image=False)
                for i, (fix, shape) in salicon.read_salicon_json(path).items()}
        return MapSource(name, path, "salicon-json", refs, (path,))
    if suffix in MAP_SUFFIXES:
        raise InputError(f"source {name!r}: give the folder of maps, not one map file", path)
    raise InputError(f"source {name!r}: unknown map format {suffix!r}", path)


def _reveal_map_folder(name, root):
    """The one source of a map folder written by the toolkit (several: the user names one)."""
    index = read_index(root)
    sources = index["sources"]
    if len(sources) != 1:
        listed = ", ".join(f"{name}={root / e['folder']}" for e in sources.values())
        raise InputError(f"source {name!r}: this map folder holds {len(sources)} sources; give one of their folders: "
                         f"{listed or '(none)'}", root)
    (source, entry), = sources.items()
    folder = root / entry["folder"]
    refs = {i: MapRef(name, i, folder / f"{i}.npy", "file") for i in entry["images"]}
    return MapSource(name, root, "reveal-maps", refs, (root / INDEX,), provenance={"source": source, **entry})
