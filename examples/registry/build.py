"""Writes the sample registries (Jiangxi-style, illustrative) as JSON, CSV and XLSX: `python -m examples.registry.build`.

The credit codes and patent numbers are made up with valid check characters; region and industry codes are real.
The first three demands are the seed article's deals (examples/deals/); each has one achievement written to fit it
and a few near misses that share words or industry but not the whole.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from domain.identifiers import uscc_check_character
from domain.registry import Achievement, RegisteredDemand, patent_check_character
from registry.tables import Kind, write_records

HERE = Path(__file__).resolve().parent
_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WAN = 1_000_000  # fen per 万元


def uscc(kind: str, region: str, seed: str) -> str:
    """An illustrative unified social credit code: `kind` 12 (public institution) or 91 (company), valid check character."""
    digest = hashlib.sha256(seed.encode()).digest()
    org = "".join(_ALPHABET[b % 31] for b in digest[:9])
    first17 = f"{kind}{region}{org}"
    return first17 + uscc_check_character(first17)


def patent(year: int, kind: int, serial: int) -> str:
    digits = f"{year}{kind}{serial:07d}"
    return f"ZL{digits}.{patent_check_character(digits)}"


INSTITUTIONS = {
    "ncu": ("南昌大学", "360100"),
    "jxau": ("江西农业大学", "360100"),
    "jxust": ("江西理工大学", "360700"),
    "nchu": ("南昌航空大学", "360100"),
    "ecjtu": ("华东交通大学", "360100"),
    "jgsu": ("井冈山大学", "360800"),
    "jci": ("景德镇陶瓷大学", "360200"),
    "jxas": ("江西省科学院", "360100"),
    "ycu": ("宜春学院", "360900"),
    "jju": ("九江学院", "360400"),
}

# id suffix, centre, title, abstract, keywords, industry, trl, stage, modes, price 万元 (None: 面议), patents
ACHIEVEMENTS: list[tuple[Any, ...]] = [
    ("0001", "jgsu", "龙脑樟提取残渣制备生物有机肥技术",
     "以龙脑樟提取天然冰片后的残渣为主要原料，经复合功能菌株固态发酵制成生物有机肥，残渣利用率达95%，"
     "大田试验白菜增产12%，已在吉安完成中试。", "龙脑樟；残渣；生物有机肥；固态发酵", "C2625", 6, "pilot",
     "合作开发；技术服务；转让", 50, [(2022, 1, 512345)]),
    ("0002", "jxau", "畜禽粪污堆肥微生物菌剂",
     "筛选耐高温纤维素降解菌，制成堆肥菌剂，缩短畜禽粪污堆肥周期至15天，产品为微生物肥料。", "微生物肥料；堆肥；菌剂",
     "C2625", 7, "mature", "转让；许可", 120, [(2021, 1, 233456)]),
    ("0003", "jxas", "天然冰片（右旋龙脑）高效提取纯化工艺",
     "以龙脑樟枝叶为原料，水蒸气蒸馏结合升华结晶，天然冰片纯度≥98%，提取得率提高30%。", "天然冰片；龙脑樟；提取",
     "C2740", 7, "mature", "转让；许可", 200, [(2020, 1, 345678)]),
    ("0004", "jxau", "油茶饼粕生物发酵饲料",
     "以油茶饼粕为原料，脱毒发酵制成蛋白饲料，皂素脱除率90%以上。", "油茶；饼粕；发酵饲料", "C1329", 5, "pilot",
     "合作开发", None, []),
    ("0005", "nchu", "超声电主轴设计与制造技术",
     "将超声振动集成于高速电主轴，最高转速45000 rpm，用于机床、加工中心对硬脆材料的超声加工，"
     "加工效率提高40%，刀具寿命提高2倍，已小批量生产。", "超声加工；电主轴；机床；加工中心", "C3425", 7, "mature",
     "许可；作价入股", 800, [(2021, 1, 456789), (2022, 2, 198765)]),
    ("0006", "ecjtu", "高速电主轴轴承油气润滑系统",
     "面向高速电主轴的角接触陶瓷球轴承油气润滑装置，温升降低8℃。", "电主轴；轴承；润滑", "C3451", 6, "pilot",
     "转让", 90, [(2020, 2, 287654)]),
    ("0007", "ncu", "数控机床热误差实时补偿系统",
     "基于温度场测量与神经网络的数控机床热误差补偿，定位精度提高60%。", "数控机床；热误差；补偿", "C3421", 6, "pilot",
     "许可；技术服务", 150, []),
    ("0008", "jxas", "超声波清洗设备节能改造",
     "多频超声波清洗槽与余热回收，能耗降低25%。", "超声波；清洗设备；节能", "C3599", 8, "mature", "转让", 60, []),
    ("0009", "ncu", "异质结太阳电池PECVD镀膜关键装备",
     "面向异质结（HJT）太阳电池产线的板式PECVD非晶硅镀膜装备，电池转换效率25.3%，关键部件国产化率92%，"
     "已完成产线验证。", "异质结；PECVD；镀膜；太阳电池；装备", "C3562", 6, "pilot", "合作开发；许可", 1500,
     [(2022, 1, 611111), (2023, 1, 122222)]),
    ("0010", "ncu", "钙钛矿/晶硅叠层光伏电池材料",
     "宽带隙钙钛矿顶电池与晶硅底电池叠层，实验室效率28.6%。", "钙钛矿；叠层；光伏电池", "C3825", 4, "lab", "合作开发",
     None, [(2023, 1, 233333)]),
    ("0011", "jju", "退役光伏组件绿色回收技术",
     "物理热解分离退役光伏组件中的玻璃、硅和银，回收率90%以上。", "光伏组件；回收；银", "C4210", 6, "pilot",
     "转让；合作开发", 300, []),
    ("0012", "nchu", "半导体封装用精密点胶装备",
     "视觉定位精密点胶装备，用于芯片封装，定位精度±5 μm。", "半导体封装；点胶；装备", "C3562", 7, "mature", "转让", 400, []),
    ("0013", "jxust", "稀土永磁材料晶界扩散技术",
     "采用重稀土晶界扩散提高烧结磁体矫顽力，镝用量减少60%，适用于新能源汽车驱动电机磁体。",
     "稀土永磁；晶界扩散；矫顽力", "C3242", 7, "mature", "许可；作价入股", 600, [(2021, 1, 789012)]),
    ("0014", "jxust", "离子型稀土矿绿色浸取技术",
     "以镁盐替代铵盐浸取离子型稀土矿，氨氮零排放。", "离子型稀土；浸取；氨氮", "B0932", 6, "pilot", "合作开发；技术服务",
     None, []),
    ("0015", "jxust", "钨废料再生制备硬质合金",
     "以废旧硬质合金为原料，锌熔法再生碳化钨粉，性能达到原生料水平。", "硬质合金；钨；再生", "C4210", 7, "mature",
     "转让", 350, []),
    ("0016", "ycu", "锂云母提取碳酸锂清洁工艺",
     "硫酸盐焙烧—水浸工艺从锂云母提取电池级碳酸锂，锂回收率88%，副产钾钠盐。", "锂云母；碳酸锂；提锂",
     "C3240", 7, "mature", "许可；作价入股", 1200, []),
    ("0017", "ncu", "锂离子电池硅碳负极材料",
     "纳米硅与多孔碳复合负极，首效88%，循环1000次容量保持80%。", "锂离子电池；硅碳负极", "C3841", 5, "pilot",
     "合作开发", None, []),
    ("0018", "jxust", "极薄电解铜箔制备技术",
     "4.5 μm极薄电解铜箔添加剂体系，抗拉强度≥400 MPa。", "电解铜箔；极薄；添加剂", "C3261", 6, "pilot",
     "许可；合作开发", 500, []),
    ("0019", "jci", "蜂窝陶瓷载体挤出成型技术",
     "堇青石蜂窝陶瓷载体，壁厚0.1 mm，用于汽车尾气催化净化。", "蜂窝陶瓷；挤出成型；尾气净化", "C3073", 7, "mature",
     "转让；许可", 260, []),
    ("0020", "jci", "日用陶瓷低温快烧釉料",
     "烧成温度降低80℃，烧成周期缩短30%。", "日用陶瓷；釉料；快烧", "C3074", 8, "mature", "转让", 80, []),
    ("0021", "jci", "氮化硅陶瓷轴承球",
     "气压烧结氮化硅陶瓷球，用于高速电主轴和新能源汽车电机轴承。", "氮化硅；陶瓷球；轴承", "C3073", 6, "pilot",
     "合作开发", 450, []),
    ("0022", "nchu", "小型固定翼无人机复合材料机身",
     "碳纤维复合材料一体化成型机身，减重20%。", "无人机；复合材料；机身", "C3741", 6, "pilot", "合作开发；技术服务",
     None, []),
    ("0023", "jxau", "赣南脐橙采后保鲜技术",
     "生物保鲜剂结合低温气调，脐橙贮藏期延长至150天，腐烂率低于3%。", "脐橙；保鲜；采后", "C1373", 8, "mature",
     "转让；技术服务", 40, []),
    ("0024", "jxau", "绿茶连续化精制加工生产线",
     "自动化杀青、揉捻、干燥连续生产线，人工减少70%。", "绿茶；精制茶；连续化", "C1530", 7, "mature", "转让", 180, []),
    ("0025", "jxas", "中药材黄精九蒸九晒工艺标准化",
     "黄精炮制关键参数在线控制，多糖含量稳定。", "中药材；黄精；炮制", "C2740", 6, "pilot", "技术服务", 30, []),
    ("0026", "ncu", "工业废水重金属深度处理",
     "功能化吸附材料深度去除铅、镉，出水优于地表水Ⅲ类。", "废水；重金属；吸附", "N7721", 7, "mature",
     "转让；技术服务", 220, []),
    ("0027", "ecjtu", "轨道交通钢轨在线超声探伤系统",
     "相控阵超声在线探伤，检测速度60 km/h。", "超声；探伤；钢轨", "C4014", 7, "mature", "许可", 700, []),
    ("0028", "jxas", "有机固废好氧发酵成套装备",
     "餐厨垃圾与园林废弃物好氧发酵装备，发酵周期7天，产物用于有机肥原料。", "固废；好氧发酵；有机肥", "C3591", 7,
     "mature", "转让", 280, []),
    ("0029", "nchu", "钛合金航空结构件增材制造",
     "激光选区熔化成形钛合金结构件，力学性能达锻件标准。", "钛合金；增材制造；航空", "C3744", 6, "pilot",
     "合作开发", None, []),
    ("0030", "ycu", "富硒大米加工与检测",
     "富硒稻米加工工艺与硒形态检测方法。", "富硒；大米；检测", "C1312", 8, "mature", "转让；技术服务", 25, []),
]  # fmt: skip

# id, enterprise, region, industry, title, problem, keywords, indicators, budget 万元, deadline, min TRL, modes, IP, open call
DEMANDS: list[tuple[Any, ...]] = [
    ("D-JA-2026-001", "吉安高盛生物科技发展有限公司", "91360800MA39G50K0A", "360800", "C2625",
     "龙脑樟提取后残渣制备生物肥",
     "龙脑樟提取天然冰片后留下大量残渣，企业希望将其资源化，制成生物有机肥，并验证对白菜生长的效果。",
     "龙脑樟；残渣；生物肥", "残渣利用率：≥ 90%；白菜增产：≥ 10%（田间对照试验）", (30, 80), "2027-06-30", 5,
     "合作开发", "委托开发，成果归企业所有，研究单位保留署名权", ""),
    ("D-FZ-2026-002", "深圳迈菲精密有限公司", "91440300MA5FMF1P2R", "361000", "C3425", "超声主轴研发与产业化",
     "超声主轴用于机床、加工中心的超声加工改造与性能提升，项目落地抚州高新区，需关键技术与数千万元融资。",
     "超声主轴；机床", "年产能：≥ 10000 根超声主轴；最高转速：≥ 40000 rpm", (500, 2000), "2027-09-30", 6,
     "许可；作价入股", "专利许可或作价入股", ""),
    ("D-JJ-2026-003", "江西汉可泛半导体技术有限公司", "91360400MA38HK0F1Y", "360400", "C3562",
     "异质结太阳电池产线关键装备设计制造",
     "九江市重大产业技术攻关揭榜挂帅项目：异质结太阳电池产线的关键装备，由高校团队解题，企业实施并投产。",
     "异质结；太阳电池；装备", "电池转换效率：≥ 25%；装备国产化率：≥ 90%", (1000, 3000), "2027-12-31", 5,
     "合作开发", "合作开发，共有知识产权", "国内高校或科研院所团队，近五年承担过光伏装备相关省部级以上项目"),
    ("D-GZ-2026-004", None, None, "360700", "C3810", "新能源汽车驱动电机高矫顽力钕铁硼磁体",
     "驱动电机用钕铁硼磁体高温退磁，需在不增加镝铽用量的前提下提高矫顽力。", "钕铁硼；矫顽力；驱动电机",
     "矫顽力：≥ 25 kOe；重稀土用量：降低 50%", (300, 800), "2027-10-31", 6, "许可", "专利许可", ""),
    ("D-YC-2026-005", None, None, "360900", "C3240", "锂云母提锂降本",
     "锂云母提锂成本高、渣量大，需清洁高效的碳酸锂提取工艺。", "锂云母；碳酸锂", "锂回收率：≥ 85%", (500, 1500),
     "2027-08-31", 6, "", "", ""),
    ("D-JDZ-2026-006", None, None, "360200", "C3074", "日用瓷烧成节能",
     "隧道窑烧成能耗高，希望降低烧成温度、缩短周期。", "日用陶瓷；烧成；节能", "能耗：降低 20%", (50, 150),
     "2027-05-31", 7, "转让", "", ""),
    ("D-YT-2026-007", None, None, "360600", "C3261", "锂电铜箔减薄",
     "现有6 μm铜箔需减薄至4.5 μm，抗拉强度不降低。", "铜箔；减薄", "厚度：≤ 4.5 μm；抗拉强度：≥ 380 MPa", (300, 600),
     "2027-09-30", 5, "许可；合作开发", "", ""),
    ("D-GZ-2026-008", None, None, "360700", "C1373", "脐橙贮藏保鲜",
     "赣南脐橙采后腐烂损耗大，需延长贮藏期。", "脐橙；保鲜", "贮藏期：≥ 120 天；腐烂率：≤ 5%", (20, 60), "2027-03-31", 7,
     "转让", "", ""),
    ("D-NC-2026-009", None, None, "360100", "N7721", "电镀园区废水重金属深度处理",
     "电镀园区综合废水铅镉超标，需深度处理工艺。", "废水；重金属", "出水：达到地表水Ⅲ类", (100, 300), "2027-06-30", 6,
     "技术服务", "", ""),
    ("D-SR-2026-010", None, None, "361100", "C3825", "光伏组件回收产线",
     "上饶光伏产业集聚，退役组件逐年增多，需玻璃、硅、银的高值化回收技术并建设产线。", "光伏组件；回收",
     "回收率：≥ 85%", (200, 500), "2027-12-31", 6, "转让；合作开发", "", "具备光伏回收中试经验的高校或企业"),
]  # fmt: skip

_ENTERPRISE_NAMES = {
    "D-GZ-2026-004": "赣州稀磁电机科技有限公司",
    "D-YC-2026-005": "宜春锂源新材料有限公司",
    "D-JDZ-2026-006": "景德镇瓷韵陶瓷有限公司",
    "D-YT-2026-007": "鹰潭铜达电子材料有限公司",
    "D-GZ-2026-008": "赣州橙乡果业有限公司",
    "D-NC-2026-009": "南昌清源环保科技有限公司",
    "D-SR-2026-010": "上饶晶循新能源有限公司",
}


def achievements() -> list[Achievement]:
    result = []
    for suffix, centre, title, abstract, keywords, industry, trl, stage, modes, price, patents in ACHIEVEMENTS:
        name, region = INSTITUTIONS[centre]
        result.append(
            Achievement.model_validate(
                {
                    "achievement_id": f"JXCG-2026-{suffix}",
                    "title": title,
                    "abstract": abstract,
                    "keywords": keywords.split("；"),
                    "institution": {"name": name, "credit_code": uscc("12", region, name), "centre_id": centre},
                    "industry_code": industry,
                    "trl": trl,
                    "stage": stage,
                    "patents": [patent(*p) for p in patents],
                    "transfer_modes": modes.split("；"),
                    "asking_price_fen": None if price is None else price * WAN,
                    "region_code": region,
                    "contact": {"name": f"{name}成果转化办公室", "phone": "0791-88305000"},
                }
            )
        )
    return result


def demands() -> list[RegisteredDemand]:
    result = []
    for row in DEMANDS:
        id_, name, code, region, industry, title, problem, keywords, indicators, budget, deadline, min_trl, modes, ip, call = row
        name = name or _ENTERPRISE_NAMES[id_]
        indicator_list = [dict(zip(("name", "target"), i.split("："), strict=True)) for i in indicators.split("；")]
        result.append(
            RegisteredDemand.model_validate(
                {
                    "demand_id": id_,
                    "title": title,
                    "problem": problem,
                    "keywords": keywords.split("；"),
                    "enterprise_name": name,
                    "enterprise_credit_code": code or uscc("91", region, name),
                    "region_code": region,
                    "industry_code": industry,
                    "indicators": indicator_list,
                    "budget": {"min_fen": budget[0] * WAN, "max_fen": budget[1] * WAN},
                    "deadline": deadline,
                    "min_trl": min_trl,
                    "preferred_modes": modes.split("；") if modes else [],
                    "ip_expectations": ip,
                    "open_call": bool(call),
                    "solver_qualifications": call,
                }
            )
        )
    return result


def main() -> None:
    for kind, records in ((Kind.ACHIEVEMENTS, achievements()), (Kind.DEMANDS, demands())):
        for suffix in (".json", ".csv", ".xlsx"):
            write_records(HERE / f"{kind.value}{suffix}", kind, records)
    print(f"wrote {len(ACHIEVEMENTS)} achievements and {len(DEMANDS)} demands to {HERE}")


if __name__ == "__main__":
    main()
