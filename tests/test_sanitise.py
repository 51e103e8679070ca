"""One sanitiser for HTML from outside: inline images survive the pipeline's second pass,
nothing else a ``data:`` URL can carry does."""

from __future__ import annotations

from hub.payloads import sanitise_html

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8


def test_an_inline_cid_image_survives_sanitising_twice() -> None:
    once = sanitise_html(
        '<p>Logo <img src="cid:logo.1@mail"></p>', {"logo.1@mail": ("image/png", PNG)}
    )
    assert 'src="data:image/png;base64,' in once
    assert sanitise_html(once) == once  # the pipeline sanitises every inbound message again


def test_data_urls_that_are_not_raster_images_are_dropped() -> None:
    html = (
        '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>'
        '<img src="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=">'
        '<img src="cid:unknown@mail"><img src="cid:doc@mail">'
    )
    clean = sanitise_html(html, {"doc@mail": ("application/pdf", b"%PDF")})
    assert "data:" not in clean and "cid:" not in clean
    assert "<script" not in sanitise_html("<p onclick=alert(1)>hi<script>x</script></p>")
