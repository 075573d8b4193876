"""Readers for photographs and importance maps (ClickMe, SALICON, any greyscale map)."""
from .clickme import ClickDump, clicks_to_map, read_click_csv, read_click_npz
from .images import read_image, read_map_file
from .salicon import fixation_map, read_salicon_json, read_salicon_mat
from .sources import MapRef, MapSource, open_map_source

__all__ = [
    "ClickDump", "clicks_to_map", "read_click_csv", "read_click_npz", "read_image", "read_map_file",
    "fixation_map", "read_salicon_json", "read_salicon_mat", "MapRef", "MapSource", "open_map_source",
]
