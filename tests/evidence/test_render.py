"""The one evidence renderer (gridsight.evidence): header that fits, labels in the frame, crop, blur."""

from __future__ import annotations

import numpy as np

from gridsight.evidence import (blur_people, font, header_layout, render, with_header)
from tests.evidence.blur import unblurred

LONG = "Street vending / occupation 无照经营游商（占道经营） · campus-east-entrance-door-2 · sidewalk-north · 2026-12-03 08:00:59 UTC"


def noise(h: int, w: int) -> np.ndarray:
    return np.random.default_rng(7).integers(0, 255, (h, w, 3), dtype=np.uint8)


def test_a_long_header_on_a_narrow_frame_is_drawn_whole_and_inside():
    frame = noise(240, 200)
    f, lines = header_layout(LONG, 200, 240)
    assert " ".join(lines) == LONG  # every character, the seconds too
    assert all(f.getlength(line) <= 200 - 12 for line in lines)
    out = with_header(frame, LONG)
    band = out.shape[0] - frame.shape[0]
    assert out.shape[1] == 200 and band > 2 * f.size  # wrapped onto more lines, above the frame
    assert (out[band:] == frame).all()  # the frame itself is not covered
    text = out[:band].max(axis=2) > 128  # white text on black: the right margin stays black
    assert text.any() and not text[:, -3:].any()


def test_labels_stay_inside_the_frame_and_are_bilingual_and_the_crop_zooms_the_problem():
    frame = np.full((576, 768, 3), 90, np.uint8)
    car = {"class_name": "car", "score": 0.9, "box": [735, 0, 768, 40], "track_id": 2}  # top-right corner
    shots = render(frame, [car], title=LONG, polygon=[[741, 0], [768, 0], [768, 130], [741, 130]],
                   language="en+zh")
    band = shots.annotated.shape[0] - 576
    assert band > 0 and (shots.annotated[:band].max(axis=2) < 60).mean() > 0.5  # a black header band
    drawn = shots.annotated[band:]
    red = (drawn[..., 2] > 180) & (drawn[..., 0] < 90)
    assert red[:40, 600:].any()  # box and label in the frame, below the band, not cut at the edge
    label_w = font(max(12, 576 // 40)).getlength("car 汽车 0.90 #2")
    assert label_w > font(max(12, 576 // 40)).getlength("car 0.90 #2") + 10  # the Chinese name is drawn
    assert red[:, 768 - int(label_w) - 6:].any()
    crop = shots.crop
    assert max(crop.shape[:2]) == 480 and crop.shape[2] == 3  # zoomed: the 33 px car fills the crop
    assert ((crop[..., 2] > 180) & (crop[..., 0] < 90)).mean() > 0.01


def test_blur_covers_the_dilated_box_and_nothing_else():
    frame = noise(200, 300)
    person = [100, 50, 140, 150]
    out = blur_people(frame, [person])
    assert unblurred(frame, out, [person]) == []
    assert unblurred(frame, out, [[0, 0, 60, 200], [220, 0, 300, 200]]) == [[0, 0, 60, 200], [220, 0, 300, 200]]
    grown = [100 - 0.2 * 40 - 1, 50 - 0.2 * 100 - 1, 140 + 0.2 * 40 + 1, 150 + 0.2 * 100 + 1]
    assert not (out[int(grown[1]):int(grown[3]), int(grown[0]):int(grown[2])]
                == frame[int(grown[1]):int(grown[3]), int(grown[0]):int(grown[2])]).all(axis=2).mean() > 0.5
