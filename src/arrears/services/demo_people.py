"""Synthetic people for the demo book: names, resident ID numbers, phones, addresses.

Everything here is invented but well formed: names are drawn from common Chinese surnames
and given-name characters, resident ID numbers carry real administrative-division prefixes
and a correct GB 11643-1999 (ISO 7064 MOD 11-2) check digit, mobile numbers use live
mainland prefixes, and coordinates are jittered around real district centres.
Randomness always comes from the caller's ``random.Random``; nothing here reads the clock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

__all__ = [
    "CITIES",
    "City",
    "District",
    "Person",
    "id_check_char",
    "make_person",
    "pick_city",
    "random_address",
    "random_contacts",
    "random_email",
    "random_employer",
    "random_mobile",
    "random_name",
    "random_surname",
    "words",
]

# "character:pinyin:weight" — weights roughly follow the surname shares of the 2020 census.
_SURNAME_DATA = (
    "王:wang:71 李:li:70 张:zhang:67 刘:liu:54 陈:chen:46 杨:yang:31 黄:huang:24 赵:zhao:23 "
    "吴:wu:20 周:zhou:19 徐:xu:13 孙:sun:13 马:ma:12 朱:zhu:12 胡:hu:11 郭:guo:11 何:he:10 "
    "林:lin:10 高:gao:10 罗:luo:9 郑:zheng:8 梁:liang:8 谢:xie:6 宋:song:6 唐:tang:6 许:xu:6 "
    "韩:han:6 冯:feng:5 邓:deng:5 曹:cao:5 彭:peng:5 曾:zeng:5 肖:xiao:5 田:tian:4 董:dong:4 "
    "潘:pan:4 袁:yuan:4 蔡:cai:3 蒋:jiang:3 余:yu:3 于:yu:3 杜:du:3 叶:ye:3 程:cheng:3 "
    "魏:wei:3 苏:su:3 吕:lv:3 丁:ding:3 任:ren:3 卢:lu:3 姚:yao:3 沈:shen:3 钟:zhong:3 "
    "姜:jiang:3 崔:cui:3 谭:tan:3 陆:lu:3 范:fan:2 汪:wang:2 廖:liao:2 石:shi:2 金:jin:2 "
    "贾:jia:2 夏:xia:2 付:fu:2 方:fang:2 邹:zou:2 熊:xiong:2 白:bai:2 孟:meng:2 秦:qin:2 "
    "邱:qiu:2 侯:hou:2 江:jiang:2 薛:xue:2 段:duan:2 雷:lei:2 龙:long:2 陶:tao:2 贺:he:2 "
    "毛:mao:2 郝:hao:2 顾:gu:2 龚:gong:2 邵:shao:2 钱:qian:2 戴:dai:2 严:yan:2 欧阳:ouyang:1"
)
_MALE_CHARS = (
    "伟:wei 强:qiang 磊:lei 军:jun 勇:yong 杰:jie 涛:tao 斌:bin 超:chao 明:ming 刚:gang "
    "平:ping 辉:hui 鹏:peng 华:hua 飞:fei 鑫:xin 波:bo 宇:yu 浩:hao 凯:kai 健:jian 俊:jun "
    "帆:fan 旭:xu 宁:ning 龙:long 阳:yang 建:jian 国:guo 志:zhi 文:wen 海:hai 东:dong "
    "峰:feng 晨:chen 博:bo 子:zi 轩:xuan 睿:rui 泽:ze 然:ran 成:cheng 亮:liang 栋:dong 毅:yi"
)
_FEMALE_CHARS = (
    "芳:fang 娜:na 敏:min 静:jing 丽:li 艳:yan 娟:juan 霞:xia 秀:xiu 玲:ling 燕:yan 婷:ting "
    "雪:xue 慧:hui 颖:ying 琳:lin 丹:dan 萍:ping 红:hong 梅:mei 倩:qian 佳:jia 欣:xin "
    "悦:yue 怡:yi 晶:jing 璐:lu 莉:li 瑶:yao 薇:wei 蕾:lei 雯:wen 琪:qi 思:si 雨:yu 梦:meng "
    "诗:shi 晓:xiao 月:yue 洁:jie 琴:qin 兰:lan 菲:fei 彤:tong 涵:han"
)


def words(text: str) -> tuple[str, ...]:
    """The space-separated words of ``text``."""
    return tuple(text.split())


def _pairs(data: str) -> tuple[tuple[str, str], ...]:
    return tuple((c, p) for c, p in (item.split(":") for item in data.split()))


_SURNAMES = tuple((c, p) for c, p, _ in (item.split(":") for item in _SURNAME_DATA.split()))
_SURNAME_WEIGHTS = tuple(int(item.split(":")[2]) for item in _SURNAME_DATA.split())
_MALE = _pairs(_MALE_CHARS)
_FEMALE = _pairs(_FEMALE_CHARS)


@dataclass(frozen=True, slots=True)
class District:
    name: str
    code: str  # 6-digit administrative division code (GB/T 2260)
    lat: float
    lon: float
    streets: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class City:
    name: str  # as written in addresses
    short: str  # as used in company names
    weight: float
    median_income: int
    districts: tuple[District, ...]


def _d(name: str, code: str, lat: float, lon: float, streets: str) -> District:
    return District(name, code, lat, lon, tuple(streets.split()))


CITIES: tuple[City, ...] = (
    City(
        "北京市",
        "北京",
        0.30,
        11000,
        (
            _d(
                "东城区", "110101", 39.928, 116.416, "东直门内大街 东四十条 和平里东街 崇文门外大街"
            ),
            _d(
                "西城区",
                "110102",
                39.912,
                116.366,
                "西直门南大街 金融大街 广安门内大街 德胜门外大街",
            ),
            _d("朝阳区", "110105", 39.948, 116.486, "建国路 朝阳北路 望京街 酒仙桥路 广渠路"),
            _d("丰台区", "110106", 39.858, 116.287, "丰台北路 南三环西路 马家堡东路 科学城海鹰路"),
            _d("海淀区", "110108", 39.960, 116.298, "中关村大街 学院路 知春路 北四环西路 上地十街"),
            _d("通州区", "110112", 39.902, 116.657, "新华大街 九棵树东路 玉带河东街 通胡大街"),
            _d("昌平区", "110114", 40.075, 116.360, "回龙观东大街 天通苑北街 立汤路 北清路"),
        ),
    ),
    City(
        "上海市",
        "上海",
        0.30,
        11500,
        (
            _d("黄浦区", "310101", 31.231, 121.484, "南京东路 淮海中路 西藏南路 复兴东路"),
            _d("徐汇区", "310104", 31.188, 121.437, "漕溪北路 肇嘉浜路 虹桥路 田林路"),
            _d("长宁区", "310105", 31.220, 121.424, "天山路 仙霞路 延安西路 古北路"),
            _d("静安区", "310106", 31.229, 121.448, "南京西路 共和新路 延长中路 江宁路"),
            _d("普陀区", "310107", 31.249, 121.397, "曹杨路 真北路 武宁路 金沙江路"),
            _d("杨浦区", "310110", 31.260, 121.526, "四平路 国定路 黄兴路 控江路"),
            _d("闵行区", "310112", 31.113, 121.382, "七莘路 莘松路 虹井路 都市路"),
            _d("宝山区", "310113", 31.405, 121.489, "牡丹江路 友谊路 泰和路 淞滨路"),
            _d("浦东新区", "310115", 31.221, 121.544, "世纪大道 张杨路 浦东南路 锦绣路 陆家嘴环路"),
        ),
    ),
    City(
        "广州市",
        "广州",
        0.22,
        9000,
        (
            _d("荔湾区", "440103", 23.125, 113.244, "中山八路 芳村大道 康王中路 黄沙大道"),
            _d("越秀区", "440104", 23.129, 113.267, "中山五路 东风中路 环市东路 北京路"),
            _d("海珠区", "440105", 23.084, 113.317, "江南大道中 新港中路 工业大道 昌岗中路"),
            _d("天河区", "440106", 23.125, 113.361, "天河路 体育西路 花城大道 中山大道西"),
            _d("白云区", "440111", 23.198, 113.273, "白云大道北 机场路 同和路 广州大道北"),
            _d("番禺区", "440113", 22.938, 113.384, "市桥大北路 迎宾路 汉溪大道 番禺大道北"),
        ),
    ),
    City(
        "成都市",
        "成都",
        0.18,
        7500,
        (
            _d("锦江区", "510104", 30.657, 104.083, "春熙路 红星路三段 东大街 锦华路"),
            _d("青羊区", "510105", 30.674, 104.061, "人民中路 蜀都大道 光华大道 金河路"),
            _d("金牛区", "510106", 30.692, 104.052, "沙湾路 蜀汉路 交大路 茶店子路"),
            _d("武侯区", "510107", 30.642, 104.043, "人民南路 科华北路 武侯祠大街 天府大道北段"),
            _d("成华区", "510108", 30.660, 104.101, "建设路 二仙桥东路 府青路 双庆路"),
            _d("双流区", "510116", 30.574, 103.923, "棠湖西路 白衣上街 航空路 双华路"),
        ),
    ),
)
_CITY_WEIGHTS = tuple(c.weight for c in CITIES)

# Household registrations elsewhere (people who moved to the big cities for work).
_MIGRANT_CODES = words(
    "410102 410105 430102 430104 340102 340104 420102 420106 320102 320106 370102 370103 "
    "130102 130104 440303 440304 500103 500106 360102 450103 610104 220102 230103 350102"
)

_COMPOUNDS = words(
    "阳光花园 锦绣家园 金色家园 华府小区 翠苑 和平里小区 东方明珠苑 幸福小区 绿地公寓 新城小区"
)
_BRANDS = words(
    "华信 恒通 鼎盛 瑞丰 金桥 宏达 永安 新世纪 东方 天成 博远 中科 嘉禾 盛世 万家 汇通 众诚 远航"
)
_TRADES = words(
    "科技 贸易 物流 餐饮管理 建筑工程 电子商务 信息技术 医药 教育科技 文化传媒 "
    "房地产经纪 汽车销售服务 装饰工程 商贸 人力资源服务"
)
_SHOPS = words("餐馆 便利店 水果店 五金店 理发店 快餐店 服装店 汽修店")
_MAIL_DOMAINS = ("163.com", "126.com", "sina.com", "foxmail.com", "139.com", "outlook.com")
_MOBILE_PREFIXES = words(
    "130 131 132 133 134 135 136 137 138 139 150 151 152 153 155 156 157 158 159 "
    "166 176 177 180 181 182 183 184 185 186 187 188 189 191 198 199"
)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_check_char(first17: str) -> str:
    """GB 11643-1999 check character (ISO 7064 MOD 11-2) of the first 17 digits."""
    total = sum(int(ch) * w for ch, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    pinyin: str
    surname: tuple[str, str]
    male: bool
    birth: date
    id_number: str


def pick_city(rng: random.Random) -> City:
    return rng.choices(CITIES, weights=_CITY_WEIGHTS)[0]


def random_surname(rng: random.Random) -> tuple[str, str]:
    """A (character, pinyin) family name, weighted by frequency."""
    return rng.choices(_SURNAMES, weights=_SURNAME_WEIGHTS)[0]


def random_name(
    rng: random.Random, male: bool, surname: tuple[str, str] | None = None
) -> tuple[str, str]:
    """A (name, pinyin) pair; ``surname`` forces the family name (a parent, a child)."""
    family = surname or random_surname(rng)
    pool = _MALE if male else _FEMALE
    parts = [rng.choice(pool) for _ in range(1 if rng.random() < 0.35 else 2)]
    if len(parts) == 2 and parts[0] == parts[1] and rng.random() < 0.7:
        parts[1] = rng.choice(pool)
    return family[0] + "".join(c for c, _ in parts), family[1] + "".join(p for _, p in parts)


def random_birth(rng: random.Random, first_year: int = 1965, last_year: int = 2003) -> date:
    year = round(rng.triangular(first_year, last_year + 0.49, 1990))
    year = min(max(year, first_year), last_year)
    return date(year, 1, 1) + timedelta(days=rng.randrange(365))


def id_number(rng: random.Random, region: str, birth: date, male: bool) -> str:
    seq = rng.randrange(0, 500) * 2 + (1 if male else 0)  # odd = male, even = female
    if seq == 0:
        seq = 2
    first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
    return first17 + id_check_char(first17)


def make_person(rng: random.Random, city: City, district: District) -> Person:
    male = rng.random() < 0.56
    surname = random_surname(rng)
    name, pinyin = random_name(rng, male, surname)
    birth = random_birth(rng)
    if rng.random() < 0.7:
        region = district.code if rng.random() < 0.6 else rng.choice(city.districts).code
    else:
        region = rng.choice(_MIGRANT_CODES)
    return Person(name, pinyin, surname, male, birth, id_number(rng, region, birth, male))


def random_mobile(rng: random.Random, used: set[str]) -> str:
    """A unique mainland mobile number in E.164."""
    while True:
        number = f"+86{rng.choice(_MOBILE_PREFIXES)}{rng.randrange(10**8):08d}"
        if number not in used:
            used.add(number)
            return number


def random_address(rng: random.Random, city: City, district: District) -> tuple[str, float, float]:
    """A street address in Chinese and WGS84 coordinates near the district centre."""
    street = rng.choice(district.streets)
    number = rng.randint(1, 399)
    if rng.random() < 0.8:
        compound = rng.choice(_COMPOUNDS)
        building, unit = rng.randint(1, 30), rng.randint(1, 4)
        room = f"{rng.randint(1, 28)}{rng.randint(1, 8):02d}"
        flat = f"{compound}{building}栋{unit}单元{room}室"
    else:
        flat = f"{rng.randint(1, 12)}号楼{rng.randint(1, 6)}{rng.randint(1, 20):02d}"
    lat = round(district.lat + rng.uniform(-0.025, 0.025), 6)
    lon = round(district.lon + rng.uniform(-0.03, 0.03), 6)
    return f"{city.name}{district.name}{street}{number}号{flat}", lat, lon


def random_employer(rng: random.Random, city: City, district: District, surname: str) -> str:
    r = rng.random()
    if r < 0.05:
        return ""
    if r < 0.13:
        return f"个体经营（{surname}记{rng.choice(_SHOPS)}）"
    if r < 0.21:
        public = (
            f"{district.name}人民医院",
            f"{city.name}第{rng.randint(1, 60)}中学",
            f"{city.name}{district.name}街道办事处",
            f"{city.short}地铁运营有限公司",
        )
        return rng.choice(public)
    suffix = "股份有限公司" if rng.random() < 0.12 else "有限公司"
    return f"{city.short}{rng.choice(_BRANDS)}{rng.choice(_TRADES)}{suffix}"


def random_email(rng: random.Random, person: Person) -> str:
    if rng.random() < 0.4:
        return f"{rng.randint(10**5, 3 * 10**9)}@qq.com"
    tail = rng.choice((f"{person.birth:%Y}", f"{person.birth:%m%d}", str(rng.randint(1, 999)), ""))
    return f"{person.pinyin}{tail}@{rng.choice(_MAIL_DOMAINS)}"


def random_contacts(
    rng: random.Random, person: Person, as_of: date, *, guarantor: bool
) -> list[tuple[str, str]]:
    """(relation, name) of the contacts a borrower names: family first, then others."""
    age = as_of.year - person.birth.year
    married = age >= 25 and rng.random() < 0.7
    first = "spouse" if married else ("parent" if age < 55 else "relative")
    pool = {"parent": 20 if age < 55 else 0, "relative": 15, "friend": 25, "colleague": 25,
            "child": 12 if age >= 45 else 0, "employer": 3, "other": 2}  # fmt: skip
    extra = rng.choices((0, 1, 2), (3, 5, 2))[0]
    relations = [first, *rng.choices(list(pool), weights=list(pool.values()), k=extra)]
    if guarantor and rng.random() < 0.7:
        relations.append("guarantor")
    return [(relation, _contact_name(rng, relation, person)) for relation in relations]


def _contact_name(rng: random.Random, relation: str, person: Person) -> str:
    if relation == "spouse":
        return random_name(rng, not person.male)[0]
    if relation in ("parent", "child"):
        male = rng.random() < 0.5
        same_family = male if relation == "parent" else person.male or rng.random() < 0.3
        return random_name(rng, male, person.surname if same_family else None)[0]
    return random_name(rng, rng.random() < 0.55)[0]
