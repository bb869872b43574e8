"""A seeded demonstration corpus in Chinese: achievements and demands across Jiangxi's main industries and 11 cities.

`kuayue demo-data` writes it; `kuayue up` loads it into the registries; the matching evaluation
(`registry.evaluation`) reads the graded relevance it records. The same seed always gives the same corpus.

How it is built, so that matching has something real to get right:
- each record is about one *topic* (a technology of one industry, with a real GB/T 4754 class) and one *aspect*
  (what is to be improved: efficiency, energy, service life, inspection, cost, emissions);
- achievements and demands word the same topic differently, as researchers and enterprises do: a demand often uses
  a brokers' synonym (钕铁硼 for 稀土永磁, 污水 for 废水, …) that the achievement never writes;
- near misses come for free and on purpose: the topics of one industry share its words, and every topic shares the
  aspect words, so many achievements share words with a demand but solve something else;
- the ground truth is known: an achievement on the demand's topic and aspect that the enterprise can use (readiness
  at least the minimum, a transfer mode it accepts, a price within 1.5 × its budget) is highly relevant (grade 2); on
  the topic and aspect but not usable, or usable on the topic with another aspect, relevant (grade 1).

Codes are real where they are codes (GB/T 2260 cities, GB/T 4754 classes) and illustrative where they name someone:
credit codes and patent numbers are made up with valid check characters.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from domain.identifiers import uscc_check_character
from domain.matching import record_hash
from domain.parties import TransferMode
from domain.registry import Achievement, RegisteredDemand, patent_check_character

WAN = 1_000_000  # fen per 万元
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"

# GB/T 2260: Jiangxi's 11 prefecture-level cities.
CITIES = {
    "360100": "南昌",
    "360200": "景德镇",
    "360300": "萍乡",
    "360400": "九江",
    "360500": "新余",
    "360600": "鹰潭",
    "360700": "赣州",
    "360800": "吉安",
    "360900": "宜春",
    "361000": "抚州",
    "361100": "上饶",
}

# Research institutions (the N centres) and their cities.
INSTITUTIONS = (
    ("ncu", "南昌大学", "360100"),
    ("jxau", "江西农业大学", "360100"),
    ("jxust", "江西理工大学", "360700"),
    ("nchu", "南昌航空大学", "360100"),
    ("ecjtu", "华东交通大学", "360100"),
    ("jxnu", "江西师范大学", "360100"),
    ("jxutcm", "江西中医药大学", "360100"),
    ("jgsu", "井冈山大学", "360800"),
    ("jci", "景德镇陶瓷大学", "360200"),
    ("jxas", "江西省科学院", "360100"),
    ("ycu", "宜春学院", "360900"),
    ("jju", "九江学院", "360400"),
    ("gnnu", "赣南师范大学", "360700"),
    ("sru", "上饶师范学院", "361100"),
    ("ecut", "东华理工大学", "360100"),
    ("xyu", "新余学院", "360500"),
    ("pxu", "萍乡学院", "360300"),
)


@dataclass(frozen=True)
class Topic:
    """A technology: how researchers name it, how enterprises name it, what it does, its industry class."""

    industry: str
    code: str
    supply_terms: tuple[str, ...]  # the achievement's words for it
    demand_terms: tuple[str, ...]  # the enterprise's words (often a synonym the achievement never uses)
    methods: tuple[str, ...]  # how the achievement does it
    product: str  # what the enterprise makes with it
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class Aspect:
    supply: str  # in an achievement's title: 高效
    demand: str  # in a demand's problem: 效率偏低
    indicator: str
    target: str
    effect: str  # the achievement's result sentence


ASPECTS = (
    Aspect("高效", "生产效率偏低", "生产效率", "提升 ≥ 30%", "生产效率提高{n}%"),
    Aspect("低能耗", "单位能耗偏高", "单位能耗", "降低 ≥ 20%", "单位产品能耗降低{n}%"),
    Aspect("长寿命", "使用寿命短、返修多", "使用寿命", "≥ 原来的 2 倍", "使用寿命延长至原来的{m}倍"),
    Aspect("在线检测", "质量波动大、靠人工抽检", "检测准确率", "≥ 98%", "缺陷在线识别准确率达{p}%"),
    Aspect("低成本", "综合成本高、利润薄", "综合成本", "降低 ≥ 25%", "综合成本下降{n}%"),
    Aspect("清洁", "排放不达标、环保压力大", "排放", "达到国家一级标准", "排放浓度低于国家一级标准限值的{h}%"),
)

T = Topic
TOPICS = (
    # 有色金属
    T(
        "有色金属",
        "C3232",
        ("稀土永磁", "稀土磁材"),
        ("钕铁硼", "永磁材料"),
        ("晶界扩散重稀土", "细晶烧结"),
        "电机用磁钢",
        ("稀土", "磁体", "矫顽力"),
    ),
    T(
        "有色金属",
        "C3251",
        ("铜箔", "极薄铜箔"),
        ("电解铜箔",),
        ("添加剂调控电沉积", "阴极辊抛光"),
        "锂电铜箔",
        ("铜", "电沉积", "抗拉强度"),
    ),
    T(
        "有色金属",
        "C3231",
        ("硬质合金", "超细晶硬质合金"),
        ("钨钴合金",),
        ("低压烧结", "晶粒抑制剂掺杂"),
        "数控刀片",
        ("钨", "刀具", "耐磨"),
    ),
    T(
        "有色金属",
        "C3211",
        ("铜冶炼烟尘", "冶炼烟灰"),
        ("铜冶炼渣料",),
        ("湿法浸出分离", "选择性沉淀"),
        "阴极铜",
        ("铜", "铅", "综合回收"),
    ),
    # 装备制造
    T("装备制造", "C3425", ("电主轴", "高速电主轴"), ("主轴",), ("油气润滑", "热误差补偿"), "加工中心", ("主轴", "转速", "精度")),
    T(
        "装备制造",
        "C3421",
        ("数控机床", "五轴数控机床"),
        ("数控装备",),
        ("双转台结构", "误差建模补偿"),
        "精密零件",
        ("机床", "数控", "五轴"),
    ),
    T(
        "装备制造",
        "C3441",
        ("离心泵", "高效离心泵"),
        ("水泵",),
        ("叶轮水力优化", "变频控制"),
        "给排水设备",
        ("泵", "叶轮", "扬程"),
    ),
    T(
        "装备制造",
        "C3491",
        ("工业机器人", "焊接机器人"),
        ("机械手",),
        ("视觉引导", "轨迹规划"),
        "汽车零部件",
        ("机器人", "焊接", "视觉"),
    ),
    # 新能源
    T(
        "新能源",
        "C3825",
        ("光伏电池", "异质结电池"),
        ("太阳能电池", "HJT"),
        ("低温银浆印刷", "PECVD 钝化"),
        "光伏组件",
        ("光伏", "转换效率", "钝化"),
    ),
    T(
        "新能源",
        "C3841",
        ("锂离子电池", "磷酸铁锂电池"),
        ("锂电池", "锂电"),
        ("正极包覆改性", "电解液添加剂"),
        "储能电池",
        ("电池", "循环", "正极"),
    ),
    T(
        "新能源",
        "C2613",
        ("碳酸锂", "电池级碳酸锂"),
        ("锂盐",),
        ("锂云母焙烧提锂", "膜分离除杂"),
        "锂云母",
        ("锂云母", "提锂", "纯度"),
    ),
    T("新能源", "C3849", ("钠离子电池",), ("钠电",), ("硬碳负极", "层状氧化物正极"), "两轮车电池", ("钠", "负极", "低温")),
    # 电子信息
    T(
        "电子信息",
        "C3975",
        ("LED芯片", "硅衬底LED芯片"),
        ("发光二极管",),
        ("硅衬底外延", "量子阱结构设计"),
        "照明灯具",
        ("LED", "光效", "外延"),
    ),
    T(
        "电子信息",
        "C3982",
        ("印制电路板", "高密度互连板"),
        ("PCB", "线路板"),
        ("激光钻孔", "脉冲电镀填孔"),
        "手机主板",
        ("电路板", "线宽", "电镀"),
    ),
    T(
        "电子信息",
        "C3976",
        ("光纤传感", "光纤光栅传感器"),
        ("光纤检测",),
        ("波长解调", "温度解耦"),
        "电力监测设备",
        ("光纤", "传感", "应变"),
    ),
    T(
        "电子信息",
        "I6513",
        ("工业软件", "制造执行系统"),
        ("MES",),
        ("数字孪生建模", "工艺数据采集"),
        "车间管理",
        ("软件", "数据", "排产"),
    ),
    # 生物医药
    T(
        "生物医药",
        "C2740",
        ("中药", "中成药"),
        ("中医药",),
        ("超临界萃取", "指纹图谱质控"),
        "中药饮片",
        ("中药", "提取", "有效成分"),
    ),
    T(
        "生物医药",
        "C2761",
        ("疫苗", "重组蛋白疫苗"),
        ("生物制品",),
        ("CHO 细胞表达", "纯化工艺放大"),
        "兽用疫苗",
        ("蛋白", "表达", "纯化"),
    ),
    T(
        "生物医药",
        "C3581",
        ("医疗器械", "超声诊断设备"),
        ("医疗设备",),
        ("相控阵成像", "深度学习辅助诊断"),
        "基层医疗设备",
        ("超声", "成像", "诊断"),
    ),
    T(
        "生物医药",
        "C2770",
        ("医用敷料", "壳聚糖敷料"),
        ("伤口敷料",),
        ("静电纺丝", "抗菌改性"),
        "医用耗材",
        ("敷料", "抗菌", "止血"),
    ),
    # 新材料
    T("新材料", "C2614", ("有机硅", "硅橡胶"), ("硅胶",), ("加成型硫化", "纳米补强"), "密封件", ("硅", "耐温", "密封")),
    T(
        "新材料",
        "C3062",
        ("碳纤维复合材料", "碳纤维"),
        ("复合材料",),
        ("热压罐成型", "树脂传递模塑"),
        "轻量化部件",
        ("碳纤维", "强度", "轻量化"),
    ),
    T(
        "新材料",
        "C2651",
        ("可降解塑料", "聚乳酸"),
        ("生物降解材料",),
        ("共混增韧", "扩链改性"),
        "包装膜",
        ("降解", "薄膜", "韧性"),
    ),
    T(
        "新材料",
        "C3985",
        ("石墨烯", "石墨烯导热膜"),
        ("导热材料",),
        ("氧化还原法制备", "高温石墨化"),
        "散热模组",
        ("石墨烯", "导热", "散热"),
    ),
    # 航空
    T(
        "航空",
        "C3963",
        ("无人机", "植保无人机"),
        ("无人驾驶航空器",),
        ("自主航线规划", "多旋翼飞控"),
        "农业植保服务",
        ("无人机", "飞控", "续航"),
    ),
    T(
        "航空",
        "C3744",
        ("航空发动机叶片", "涡轮叶片"),
        ("发动机叶片",),
        ("精密铸造", "热障涂层"),
        "航空零部件",
        ("叶片", "高温", "涂层"),
    ),
    T("航空", "C3741", ("飞机蒙皮", "机身壁板"), ("飞机结构件",), ("喷丸成形", "自动钻铆"), "通用飞机", ("蒙皮", "铆接", "成形")),
    T(
        "航空",
        "C3749",
        ("航空复合材料检测", "复材无损检测"),
        ("飞机检测",),
        ("超声相控阵检测", "红外热成像"),
        "维修检测服务",
        ("无损检测", "缺陷", "复材"),
    ),
    # 现代农业
    T(
        "现代农业",
        "A0152",
        ("脐橙", "赣南脐橙"),
        ("柑橘", "橙子"),
        ("黄龙病防控", "水肥一体化"),
        "脐橙果园",
        ("果园", "病害", "产量"),
    ),
    T("现代农业", "A0111", ("水稻", "双季稻"), ("稻谷",), ("机插秧", "测土配方施肥"), "粮食种植", ("水稻", "产量", "机插")),
    T(
        "现代农业",
        "C2625",
        ("生物有机肥", "微生物肥料"),
        ("有机肥", "生物肥"),
        ("复合菌株发酵", "秸秆腐熟"),
        "有机肥",
        ("发酵", "菌株", "土壤"),
    ),
    T("现代农业", "A0164", ("茶叶", "有机茶"), ("茶",), ("茶园病虫绿色防控", "机械化采摘"), "茶园", ("茶园", "采摘", "品质")),
    # 陶瓷
    T("陶瓷", "C3074", ("日用陶瓷", "高白瓷"), ("瓷器",), ("低温快烧", "釉料配方优化"), "日用瓷", ("陶瓷", "釉", "烧成")),
    T(
        "陶瓷",
        "C3073",
        ("蜂窝陶瓷", "特种陶瓷"),
        ("陶瓷载体",),
        ("挤出成型", "堇青石合成"),
        "尾气净化载体",
        ("蜂窝", "热膨胀", "载体"),
    ),
    T("陶瓷", "C3071", ("建筑陶瓷", "陶瓷大板"), ("瓷砖",), ("干法制粉", "数码喷墨"), "墙地砖", ("陶瓷", "窑炉", "坯体")),
    T("陶瓷", "C3075", ("艺术陶瓷", "青花瓷"), ("陈设瓷",), ("3D 打印成型", "釉下彩绘"), "陈设艺术瓷", ("陶瓷", "彩绘", "成型")),
    # 节能环保
    T(
        "节能环保",
        "N7721",
        ("废水", "电镀废水"),
        ("污水",),
        ("膜生物反应器", "重金属螯合沉淀"),
        "工业园区",
        ("废水", "重金属", "处理"),
    ),
    T(
        "节能环保",
        "N7723",
        ("固废", "工业固废"),
        ("固体废物", "废渣"),
        ("高温熔融", "建材化利用"),
        "冶炼企业",
        ("固废", "资源化", "利用"),
    ),
    T(
        "节能环保",
        "C3591",
        ("余热回收", "工业余热"),
        ("废热利用",),
        ("热管换热", "有机朗肯循环"),
        "窑炉",
        ("余热", "换热", "发电"),
    ),
    T(
        "节能环保",
        "N7722",
        ("VOCs治理", "挥发性有机物处理"),
        ("有机废气",),
        ("沸石转轮浓缩", "蓄热燃烧"),
        "喷涂车间",
        ("废气", "吸附", "燃烧"),
    ),
    # 食品
    T("食品", "C1373", ("果汁", "脐橙果汁"), ("果蔬汁",), ("非热杀菌", "低温浓缩"), "果汁饮料", ("果汁", "杀菌", "风味")),
    T("食品", "C1431", ("米粉", "鲜湿米粉"), ("米线",), ("发酵改良", "保鲜包装"), "南昌拌粉", ("米粉", "保质期", "口感")),
    T("食品", "C1530", ("精制茶", "茶饮料"), ("茶制品",), ("低温萃取", "香气回收"), "茶饮", ("茶", "萃取", "香气")),
    T("食品", "C1353", ("肉制品", "腊味"), ("熏腊肉",), ("低盐腌制", "冷熏工艺"), "腊肉", ("腌制", "亚硝酸盐", "风味")),
)

INDUSTRIES = tuple(dict.fromkeys(t.industry for t in TOPICS))
_TITLE_SUFFIXES = ("关键技术", "技术", "成套技术", "工艺", "装备及工艺", "技术研究与应用")
_ENTERPRISE_WORDS = ("华", "赣", "鑫", "达", "瑞", "恒", "昌", "源", "盛", "联", "创", "科", "泰", "宏", "新", "光", "明", "德")
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙胡朱高林何郭罗梁宋郑谢韩唐冯"


@dataclass(frozen=True)
class DemoCorpus:
    achievements: list[Achievement]
    demands: list[RegisteredDemand]
    # demand id → achievement id → grade (2 highly relevant, 1 relevant; absent: not relevant)
    relevance: dict[str, dict[str, int]] = field(default_factory=dict)


def uscc(kind: str, region: str, seed: str) -> str:
    """An illustrative unified social credit code (`kind` 12 institution, 91 company) with a valid check character."""
    digest = hashlib.sha256(seed.encode()).digest()
    first17 = f"{kind}{region}" + "".join(_USCC_ALPHABET[b % 31] for b in digest[:9])
    return first17 + uscc_check_character(first17)


def patent(year: int, kind: int, serial: int) -> str:
    """An illustrative CNIPA application number with its check character, e.g. ZL202310123456.6."""
    digits = f"{year}{kind}{serial:07d}"
    return f"ZL{digits}.{patent_check_character(digits)}"


def generate_corpus(achievements: int = 3500, demands: int = 740, seed: int = 2026) -> DemoCorpus:
    """The corpus for a seed: `achievements` and `demands` records and the graded relevance of each pair."""
    rng = random.Random(seed)
    supply = [_achievement(rng, n) for n in range(achievements)]
    wanted = [_demand(rng, n) for n in range(demands)]
    relevance: dict[str, dict[str, int]] = {}
    by_topic: dict[int, list[tuple[int, int, Achievement]]] = {}
    for (topic, aspect), record in supply:
        by_topic.setdefault(topic, []).append((topic, aspect, record))
    for (topic, aspect), demand in wanted:
        grades = {}
        for _, other_aspect, record in by_topic.get(topic, []):
            usable = _usable(record, demand)
            grade = (2 if usable else 1) if other_aspect == aspect else (1 if usable else 0)
            if grade:
                grades[record.achievement_id] = grade
        relevance[demand.demand_id] = grades
    return DemoCorpus([r for _, r in supply], [d for _, d in wanted], relevance)


def _usable(achievement: Achievement, demand: RegisteredDemand) -> bool:
    """What an enterprise can take on: ready enough, a mode it accepts, a price it can stretch to."""
    if achievement.trl < demand.min_trl:
        return False
    if demand.preferred_modes and not set(demand.preferred_modes) & set(achievement.transfer_modes):
        return False
    price = achievement.asking_price_fen
    return price is None or price <= demand.budget.max_fen * 3 // 2


def _achievement(rng: random.Random, n: int) -> tuple[tuple[int, int], Achievement]:
    topic_no, aspect_no = rng.randrange(len(TOPICS)), rng.randrange(len(ASPECTS))
    topic, aspect = TOPICS[topic_no], ASPECTS[aspect_no]
    centre, institution, region = rng.choice(INSTITUTIONS)
    term = rng.choice(topic.supply_terms)
    # Now and then a researcher writes the enterprise's word too, as plain BM25 would need.
    other = rng.choice(topic.demand_terms) if rng.random() < 0.25 else rng.choice(topic.supply_terms)
    method = rng.choice(topic.methods)
    suffix = rng.choice(_TITLE_SUFFIXES)
    trl = rng.choices(range(3, 10), weights=(2, 3, 4, 5, 4, 3, 2))[0]
    stage = "lab" if trl <= 4 else ("pilot" if trl <= 6 else "mature")
    effect = aspect.effect.format(n=rng.randint(12, 45), m=rng.randint(2, 4), p=rng.randint(95, 99), h=rng.randint(40, 80))
    sentences = [
        f"针对{topic.product}生产中{other}{aspect.demand.split('、')[0]}的问题，{institution}团队采用{method}方法",
        f"开发了{aspect.supply}{term}{suffix}",
        f"经{CITIES[region]}及省内企业验证，{effect}",
        f"关键指标：{aspect.indicator}{aspect.target.replace('≥ ', '达到')}",
        rng.choice(
            ("已申请发明专利并获授权", "形成企业标准一项", "已完成小批量试制", "具备产业化条件", "可提供技术培训与现场指导")
        ),
    ]
    modes = rng.sample(list(TransferMode), rng.randint(1, 3))
    price = None if rng.random() < 0.2 else rng.choice((20, 30, 50, 80, 100, 150, 200, 300, 500, 800, 1200)) * WAN
    year = rng.randint(2015, 2025)
    record = Achievement.model_validate(
        {
            "achievement_id": f"JXCG-DEMO-{n + 1:05d}",
            "title": f"{aspect.supply}{term}{suffix}",
            "abstract": "，".join(sentences) + "。",
            "keywords": list(dict.fromkeys((term, method, *rng.sample(topic.keywords, 2)))),
            "institution": {"name": institution, "credit_code": uscc("12", region, institution), "centre_id": centre},
            "industry_code": topic.code,
            "trl": trl,
            "stage": stage,
            "patents": [patent(year, rng.choice((1, 1, 2)), rng.randrange(100_000, 9_999_999)) for _ in range(rng.randint(0, 2))],
            "transfer_modes": [m.value for m in modes],
            "asking_price_fen": price,
            "region_code": region,
            "contact": {"name": f"{rng.choice(_SURNAMES)}老师", "phone": f"0791-8{rng.randrange(1_000_000, 9_999_999)}"},
        }
    )
    return (topic_no, aspect_no), record


def _demand(rng: random.Random, n: int) -> tuple[tuple[int, int], RegisteredDemand]:
    topic_no, aspect_no = rng.randrange(len(TOPICS)), rng.randrange(len(ASPECTS))
    topic, aspect = TOPICS[topic_no], ASPECTS[aspect_no]
    region = rng.choice(list(CITIES))
    city = CITIES[region]
    # Enterprises mostly say it their way; a third of the time they use the researchers' word.
    term = rng.choice(topic.demand_terms) if rng.random() < 0.7 else rng.choice(topic.supply_terms)
    name = f"{city}{''.join(rng.sample(_ENTERPRISE_WORDS, 2))}{topic.industry.replace('现代', '')}科技有限公司"
    budget_max = rng.choice((50, 80, 100, 200, 300, 500, 1000))
    problem = (
        f"我公司位于{city}，主要生产{topic.product}。目前{term}环节{aspect.demand}，"
        f"{rng.choice(('制约了扩产', '客户投诉增加', '难以满足下游要求', '已影响订单交付'))}。"
        f"希望引进成熟可靠的{term}技术或与高校院所合作攻关，{aspect.indicator}{aspect.target}。"
    )
    modes = rng.sample(list(TransferMode), rng.randint(0, 2))
    record = RegisteredDemand.model_validate(
        {
            "demand_id": f"D-DEMO-{n + 1:04d}",
            "title": f"{term}{aspect.demand.split('、')[0]}问题求解",
            "problem": problem,
            "keywords": [term, aspect.indicator],
            "enterprise_name": name,
            "enterprise_credit_code": uscc("91", region, f"{name}{n}"),
            "region_code": region,
            "industry_code": topic.code,
            "indicators": [{"name": aspect.indicator, "target": aspect.target}],
            "budget": {"min_fen": budget_max * WAN // 4, "max_fen": budget_max * WAN},
            "deadline": (date(2026, 6, 30) + timedelta(days=rng.randrange(0, 540))).isoformat(),
            "min_trl": rng.randint(3, 7),
            "preferred_modes": [m.value for m in modes],
            "contact": {
                "name": f"{rng.choice(_SURNAMES)}经理",
                "phone": f"1{rng.choice('3589')}{rng.randrange(100_000_000, 999_999_999)}",
            },
        }
    )
    return (topic_no, aspect_no), record


def industries_of(records: Sequence[Achievement | RegisteredDemand]) -> set[str]:
    """The industry classes a list of records covers (for a quick check of the corpus' spread)."""
    return {r.industry_code for r in records}


@dataclass(frozen=True)
class LoadReport:
    inserted: int
    updated: int
    unchanged: int


def load_demo(
    factory: sessionmaker[Session], corpus: DemoCorpus | None = None, clock: Callable[[], datetime] | None = None
) -> LoadReport:
    """Write the demo corpus into the registries: new records inserted, changed ones updated, the rest left alone."""
    from registry import records
    from registry.tables import Kind

    corpus = corpus or generate_corpus()
    now = (clock or (lambda: datetime.now(UTC)))()
    counts = [0, 0, 0]
    with factory.begin() as session:
        for kind, batch in ((Kind.ACHIEVEMENTS, corpus.achievements), (Kind.DEMANDS, corpus.demands)):
            stored = records.existing_hashes(session, kind, [records.record_id(r) for r in batch])
            inserts = [r for r in batch if records.record_id(r) not in stored]
            updates = [r for r in batch if stored.get(records.record_id(r), record_hash(r)) != record_hash(r)]
            records.write(session, kind, inserts, updates, now)
            counts[0] += len(inserts)
            counts[1] += len(updates)
            counts[2] += len(batch) - len(inserts) - len(updates)
    return LoadReport(*counts)
