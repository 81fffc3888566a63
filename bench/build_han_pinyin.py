"""Write the pinyin spellings of the Chinese business words of ``han.yml``.

    python bench/build_han_pinyin.py

A Chinese company name written out in pinyin ("Heihe Xinan Guoji Maoyi Youxian
Gongsi") must compare with its English form ("Heihe Xinan International Trading Co.,
Ltd.") as the name in characters does (国际贸易有限公司 becomes "international
trading co ltd"). ``han_pinyin.yml`` maps the toneless pinyin of every word of
``han.yml`` of two or more syllables, written together, to the same English words;
single syllables are left out, they are too easily a trade name. The file is derived
from ``han.yml`` with pypinyin; a test checks that it is up to date.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from shadowtrace.resolve.normalize import han_pinyin_table  # noqa: E402

OUT = ROOT / "src" / "shadowtrace" / "resolve" / "data" / "han_pinyin.yml"


def main() -> None:
    OUT.write_text(han_pinyin_table(), encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
