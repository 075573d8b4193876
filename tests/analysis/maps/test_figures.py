"""The thumbnails figure: long observer names stay above their own column, inside the figure."""
import numpy as np

from reveal.analysis.maps.figures import thumbnail_grid


def test_long_column_titles_stay_inside_the_figure_and_apart():
    rng = np.random.default_rng(0)
    names = ["reference", "efficientnet_lite0+gala(lambda-6):gala", "efficientnet_lite0:smoothgrad",
             "resnet50_finetuned_on_clickme_v2:activation_norm"]
    maps = {n: {i: rng.random((8, 8)) for i in ("cat", "dog")} for n in names}
    fig = thumbnail_grid(["cat", "dog"], maps)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    page = fig.bbox
    boxes = [ax.title.get_window_extent(renderer) for ax in fig.axes[:len(names)]]
    for box in boxes:
        assert page.x0 - 1 <= box.x0 and box.x1 <= page.x1 + 1 and box.y1 <= page.y1 + 1
    for left, right in zip(boxes, boxes[1:]):
        assert left.x1 <= right.x0 + 1  # neighbours' titles do not run into each other
    assert all(len(line) <= 22 for ax in fig.axes[:len(names)] for line in ax.get_title().splitlines())
