"""Chinese place names for the demo district: communities, villages, townships,
compounds and roads. Deterministic given the random generator; unique where the
field expects uniqueness (admin units, compounds), with 二期/三期 phases or ordinals
appended when a large district exhausts the word lists."""

from __future__ import annotations

import itertools

import numpy as np

WORDS = ("幸福 和平 阳光 建设 人民 解放 光明 胜利 新华 东风 朝阳 红旗 团结 友谊 长青 金桥 "
         "翠竹 桂花 枫林 松涛 锦绣 春华 秋实 福源 丰收 永安 兴隆 康宁 瑞祥 嘉禾 龙湖 凤凰 "
         "白鹭 湘江 岳麓 芙蓉 雨花 天心 金星 银杉 碧水 蓝天 青山 绿洲 紫荆 玉兰 梅溪 荷塘 "
         "柳岸 望城 星沙 书院 文昌 育才 振兴 复兴 新民 东升 南湖 北辰 中山 民主 文化 交通 "
         "向阳 曙光 晨光 万家 泰和 安居 乐业 富民 宏图 德政 仁和 广济 清水 石桥 "
         "月湖 金盆 银盆 桃源 丽景 华庭 书香 盛世 锦江").split()
PREFIXES = ("", "东", "西", "南", "北", "新", "中", "上", "下", "前", "后")
VILLAGE_HEADS = ("石 桃 枫 杨 柳 黄 白 青 金 龙 凤 马 牛 竹 松 梅 李 王 张 刘 陈 周 罗 谭 "
                 "曾 彭 赵 易 唐 邓 肖 胡 樟 荷 茶 花 铁 双 三 五").split()
LANDFORMS = "山 冲 塘 湾 坪 桥 铺 坡 岭 垅 溪 田 港 洲 岗 源 家 寨 坝".split()
COMPOUND_SUFFIXES = ("小区", "花园", "苑", "家园", "新村", "公寓", "名都", "华府", "雅苑", "花城")
ORDINALS = "一 二 三 四 五 六 七 八 九 十".split()
ROAD_SUFFIXES = {"primary": ("大道", "路"), "secondary": ("路",), "tertiary": ("路", "街"),
                 "residential": ("街", "巷", "路"), "lane": ("巷",)}


def _unique(rng: np.random.Generator, stems: list[str], n: int, phase: str) -> list[str]:
    """``n`` distinct names from ``stems`` in random order; repeats get a phase suffix."""
    order = [stems[i] for i in rng.permutation(len(stems))]
    out = order[:n]
    k = 2
    while len(out) < n:
        out += [f"{s}{_ordinal(k)}{phase}" for s in order[: n - len(out)]]
        k += 1
    return out


def _ordinal(k: int) -> str:
    if k <= 10:
        return ORDINALS[k - 1]
    return f"{k}"


def place_stems(rng: np.random.Generator) -> list[str]:
    """Two- or three-character stems for schools, markets and parks, in random order."""
    stems = [f"{p}{w}" for p, w in itertools.product(PREFIXES, WORDS)]
    return [stems[i] for i in rng.permutation(len(stems))]


def community_names(rng: np.random.Generator, n: int) -> list[str]:
    """Urban communities (社区)."""
    stems = [f"{p}{w}社区" for p, w in itertools.product(PREFIXES, WORDS)]
    return _unique(rng, stems, n, "社区")


def village_names(rng: np.random.Generator, n: int) -> list[str]:
    """Administrative villages (村), e.g. 石门村, 大桃花冲村."""
    stems = [f"{p}{h}{f}村" for p, h, f in itertools.product(("", "大", "小", "新", "上", "下"),
                                                             VILLAGE_HEADS, LANDFORMS)]
    return _unique(rng, stems, n, "村")


def township_names(rng: np.random.Generator, kinds: list[str]) -> list[str]:
    """Streets (街道), towns (镇) and townships (乡), one per entry of ``kinds``."""
    suffix = {"street": "街道", "town": "镇", "township": "乡"}
    stems = [f"{p}{w}" for p, w in itertools.product(("", "东", "西", "南", "北"), WORDS)]
    names = _unique(rng, stems, len(kinds), "")
    return [f"{nm}{suffix[k]}" for nm, k in zip(names, kinds)]


def compound_names(rng: np.random.Generator, n: int) -> list[str]:
    """Residential compounds (小区), unique in the district (exclusive grids key on them)."""
    stems = [f"{w}{s}" for w, s in itertools.product(WORDS, COMPOUND_SUFFIXES)]
    return _unique(rng, stems, n, "期")


def street_names(rng: np.random.Generator, classes) -> np.ndarray:
    """Road names by class; major roads unique, minor ones may repeat across the town."""
    classes = np.asarray(classes, dtype=object)
    stems = [f"{p}{w}" for p, w in itertools.product(PREFIXES, WORDS)]
    stems = [stems[i] for i in rng.permutation(len(stems))]
    out = np.empty(len(classes), dtype=object)
    for i, cls in enumerate(classes):  # a few thousand roads at most: cheap
        suffixes = ROAD_SUFFIXES.get(cls, ("路",))
        out[i] = stems[i % len(stems)] + suffixes[i % len(suffixes)]
    return out


def coded_names(prefix: str, n: int, start: int = 1, suffix: str = "") -> np.ndarray:
    """Numbered road names as in Chinese road registers: G107, S208, Y012乡道, C0345村道."""
    width = max(3, len(str(start + n)))
    return np.array([f"{prefix}{i:0{width}d}{suffix}" for i in range(start, start + n)],
                    dtype=object)
