"""Benchmark tool: labelled Chinese financial texts from templates, for fine-tuning.

    .venv/bin/python bench/transfer_set_zh.py --n 6000 --seed 1 --out /tmp/zh_train.csv

The Chinese counterpart of ``bench/transfer_set.py`` (issue 26, item 1). finsent has no
Chinese labelled data, and public benchmark sets (Financial PhraseBank and its
translations, FiQA, SemEval-2017 Task 5, FinCUGE, Chinese financial sentiment corpora)
must not be trained on. This writes texts composed from templates, with the label decided
by construction rather than by a teacher: invented company names built from syllable
pools, real institutions, sectors and indices, periods, figures and stock codes, drawn at
random with ``--seed``. Nothing is taken from any data set.

Four registers: news headlines (short, no final punctuation), report and announcement
sentences, analyst commentary, and colloquial stock-forum posts (labelled by the poster's
stance). Each template has a kind; the hard kinds are

* ``expectation``: beats or misses expectations (``好于预期``, ``不及预期``), or meets them
  (``符合预期``, neutral);
* ``negation``: ``未能``, ``并未``, ``不存在...`` (a denial in a procedural notice is neutral);
* ``contrast``: ``虽然...但...`` and the like; the main clause after the turn decides;
* ``turnaround``: ``扭亏为盈`` positive, ``由盈转亏`` and ``首亏`` negative;
* ``loss_narrowing``: a loss narrower than a year before is labelled positive (the news
  is the improvement), with a soft label that leans towards neutral (0.05/0.25/0.70);
* ``mixed``: one segment up and another down, stated without a verdict: neutral.

Policy easing (``降准``, ``降息``) is positive, as markets read it; those templates say
``降准`` or ``降至`` rather than ``下调``, so that ``下调`` stays a negative word outside
the hard kinds.

Figures agree with their direction words (``增长`` takes a positive number; a fall is
written ``下降 X%``, never ``增长-X%``). About ``--traditional`` of the texts (default
10%) are converted to Traditional Chinese with a built-in character map that covers the
vocabulary used here. Labels are balanced (a third each) and texts are unique.

The CSV has the columns of ``finsent/data/distil/train.csv``: ``text,label`` in the
shipped label map (0 negative, 1 positive, 2 neutral) and soft labels
``p_negative,p_neutral,p_positive`` (one-hot smoothed by ``--smoothing``), so it can be
mixed with the distillation set; ``--no-soft`` writes ``text,label`` only.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

NEGATIVE, POSITIVE, NEUTRAL = 0, 1, 2
LABEL_NAMES = {NEGATIVE: "negative", POSITIVE: "positive", NEUTRAL: "neutral"}
#: Soft-label columns, in the canonical order (negative, neutral, positive).
SOFT_COLUMNS = ("p_negative", "p_neutral", "p_positive")
REGISTERS = ("headline", "report", "analyst", "forum")
REGISTER_WEIGHTS = (0.30, 0.25, 0.20, 0.25)
#: Template kinds whose wording may run against the label (a negation, a turn, a verdict).
HARD_KINDS = frozenset(
    {"expectation", "negation", "contrast", "turnaround", "loss_narrowing", "mixed"}
)
#: Kinds whose soft label is not the smoothed one-hot: (p_negative, p_neutral, p_positive).
SOFT_OVERRIDES = {"loss_narrowing": (0.05, 0.25, 0.70)}

# ---------------------------------------------------------------- vocabulary pools

#: Syllables for invented company names; none is a direction word (no rise, fall, gain
#: or loss characters), so a name never carries sentiment.
SYLLABLES = tuple("华中东金鼎盛达新源恒泰安瑞宏海天博通远明嘉信联合汇鑫昌德光永晨峰锦航川润和欣")
SUFFIXES = (
    "科技",
    "股份",
    "集团",
    "新材",
    "医药",
    "银行",
    "证券",
    "汽车",
    "能源",
    "电子",
    "智能",
    "生物",
    "化工",
    "电气",
    "传媒",
    "食品",
    "控股",
    "重工",
    "信息",
    "光电",
)
CENTRAL_BANK = ("中国人民银行", "央行")
STATISTICS = ("国家统计局",)
REGULATORS = (
    "证监会",
    "上交所",
    "深交所",
    "广东证监局",
    "浙江证监局",
    "上海证监局",
    "北京证监局",
    "江苏证监局",
)
SECTORS = (
    "白酒",
    "新能源",
    "半导体",
    "地产",
    "券商",
    "医药",
    "银行",
    "保险",
    "消费",
    "光伏",
    "军工",
    "有色",
    "煤炭",
    "汽车",
    "医疗器械",
    "人工智能",
    "算力",
    "储能",
)
INDICES = ("沪指", "深成指", "创业板指", "恒生指数", "科创50", "沪深300", "上证50")
PERIODS = (
    "一季度",
    "二季度",
    "三季度",
    "四季度",
    "前三季度",
    "上半年",
    "2025年",
    "2026年一季度",
    "2025年度",
    "2026年上半年",
    "去年全年",
)
WHEN = ("本周", "昨日", "今日", "周一", "周三", "周五", "上周", "午后", "早盘", "尾盘", "本月")
YEARS = ("2025", "2026")
BROKERS = (
    "中信证券",
    "中金公司",
    "华泰证券",
    "国泰君安",
    "招商证券",
    "广发证券",
    "海通证券",
    "高盛",
    "摩根士丹利",
    "瑞银",
    "多家券商",
    "头部券商",
)
SURNAMES = tuple("张王李刘陈杨赵黄周吴徐孙马朱胡郭何林高罗")
GIVEN = tuple("伟芳敏静磊洋勇军杰涛明华平刚建国文辉强鹏晓雪宇浩")
ROLES = ("总经理", "董事长", "财务总监", "董事会秘书", "副总经理", "独立董事")
HOLDERS = ("控股股东", "实际控制人", "持股5%以上股东", "部分董事及高级管理人员", "第二大股东")
PROJECTS = (
    "城市轨道交通项目",
    "光伏组件集中采购项目",
    "数据中心建设项目",
    "海上风电项目",
    "特高压输电工程",
    "智慧城市项目",
    "医院信息化项目",
    "储能电站项目",
    "高速公路改扩建工程",
)
FACTORS = ("原材料价格波动", "海外需求放缓", "汇率波动", "行业政策调整", "短期物流受阻")
MATTERS = ("利润分配方案", "续聘会计师事务所", "修订公司章程", "董事会换届选举", "对外担保")
CITIES = (
    "上海市浦东新区",
    "深圳市南山区",
    "北京市海淀区",
    "杭州市滨江区",
    "苏州工业园区",
    "成都市高新区",
    "广州市天河区",
    "武汉市东湖新区",
)
SEGMENTS = ("国内", "海外", "传统", "新能源", "消费电子", "汽车电子", "医药工业", "医药商业")
ORDINALS = ("一", "二", "三", "四")
LPR_1Y = ("3.45", "3.35", "3.10", "3.00")
LPR_5Y = ("4.20", "3.95", "3.60", "3.50")

# ---------------------------------------------------------------- templates

#: (register, label) -> (kind, pattern) pairs. Slots in braces are filled by ``Slots``.
Templates = dict[tuple[str, int], tuple[tuple[str, str], ...]]

TEMPLATES: Templates = {
    ("headline", POSITIVE): (
        ("figure", "{cc}：{t}净利润同比增长{p}%"),
        ("figure", "{c}{t}营收{amt} 同比增长{p}%"),
        ("figure", "{c}{t}归母净利润{amt}，同比增长{p}%"),
        ("figure", "{c}{t}毛利率同比提升{pp}个百分点"),
        ("figure", "{c}{t}新签订单同比增长{p}%"),
        ("market", "{i}{w}收涨{ps}% {sec}板块领涨"),
        ("market", "{sec}板块{w}大涨 {c}涨停"),
        ("market", "{c}{w}涨停 股价创年内新高"),
        ("market", "{i}{w}强势反弹 {sec}板块掀涨停潮"),
        ("event", "{broker}上调{c}评级至“买入”"),
        ("event", "{c}获{broker}上调评级 目标价{price}元"),
        ("event", "{c}：{holder}拟增持不低于{amt}"),
        ("event", "{c}拟斥资不超过{amt}回购股份"),
        ("event", "{cc}：{t}业绩预增{lo}%-{hi}%"),
        ("event", "{c}公布分红预案 每10股派{x}元"),
        ("event", "{c}中标{amt}{project}"),
        ("event", "{c}与{c2}签署{amt}战略合作协议"),
        ("event", "{cm}{drug}上市申请获批"),
        ("macro", "{cb}宣布降准{rr}个百分点"),
        ("macro", "{cb}降息 1年期LPR降至{lpr}%"),
        ("expectation", "{c}{t}净利润同比增长{p}% 好于市场预期"),
        ("expectation", "{c}{t}业绩超出预期 股价大涨"),
        ("negation", "{c}：{factor}并未影响公司正常经营 在手订单饱满"),
        ("contrast", "营收下滑但利润大增 {c}{t}净利润同比增长{p}%"),
        ("turnaround", "{c}{t}扭亏为盈 实现净利润{amt}"),
        ("turnaround", "{cc}：预计{t}实现扭亏为盈"),
        ("loss_narrowing", "{c}{t}亏损同比收窄{pc}%"),
        ("loss_narrowing", "{c}{t}净亏损收窄至{amt}"),
    ),
    ("headline", NEGATIVE): (
        ("figure", "{cc}：{t}净利润同比下降{pc}%"),
        ("figure", "{c}{t}营收{amt} 同比下滑{pc}%"),
        ("figure", "{c}{t}归母净利润{amt}，同比下降{pc}%"),
        ("figure", "{c}{t}毛利率同比下降{pp}个百分点"),
        ("figure", "{c}{t}亏损扩大至{amt}"),
        ("market", "{i}{w}收跌{ps}% {sec}板块领跌"),
        ("market", "{i}{w}大跌{ps}% 两市超四千股下跌"),
        ("market", "{sec}板块{w}大跌 {c}跌停"),
        ("market", "{c}{w}跌停 股价创年内新低"),
        ("market", "{i}午后跳水 {sec}板块跌幅居前"),
        ("event", "{broker}下调{c}评级至“减持”"),
        ("event", "{c}遭{broker}下调评级 目标价下调至{price}元"),
        ("event", "{c}：{holder}拟减持不超过{ps}%股份"),
        ("event", "{cc}涉嫌信息披露违法违规 被证监会立案调查"),
        ("event", "{cc}：{t}业绩预减{lo}%-{hi}%"),
        ("event", "{c}债券违约 {bond}本息逾期"),
        ("event", "{c}宣布裁员{n}人"),
        ("event", "{c}收到{reg}行政处罚决定书 被罚{amt}"),
        ("event", "{c}重大资产重组申请被否"),
        ("event", "{c}IPO被否"),
        ("event", "{c}因违规担保被{reg}出具警示函"),
        ("turnaround", "{c}{t}由盈转亏 净亏损{amt}"),
        ("turnaround", "{cc}：预计{t}首亏{amt}"),
        ("expectation", "{c}{t}业绩不及预期 股价跌停"),
        ("expectation", "{c}{t}净利润低于预期"),
        ("negation", "{c}未能按期披露年报 股票停牌"),
        ("negation", "{c}回购计划并未实施 股价大跌"),
        ("contrast", "营收增长但利润下滑 {c}{t}净利润同比下降{pc}%"),
        ("contrast", "{c}虽宣布回购 股价仍跌停"),
        ("contrast", "{i}早盘冲高 午后跳水收跌{ps}%"),
    ),
    ("headline", NEUTRAL): (
        ("procedural", "{c}将于{d}召开{y}年年度股东大会"),
        ("procedural", "{cc}：{y}年年报披露日期调整为{d}"),
        ("procedural", "{c}拟更名为{c2}"),
        ("procedural", "{cc}：公司注册地址变更"),
        ("procedural", "{c}聘任{person}为{role}"),
        ("procedural", "{c}董事会完成换届选举"),
        ("procedural", "{c}将召开{t}业绩说明会"),
        ("procedural", "{c}股票将于{d}复牌"),
        ("procedural", "{cc}：因筹划重大事项停牌"),
        ("procedural", "{c}完成工商变更登记"),
        ("procedural", "{reg}：{d}起实施修订后的业务规则"),
        ("data", "{stat}将于{d}发布{m}国民经济数据"),
        ("data", "{cb}公布{m}金融统计数据"),
        ("figure", "{stat}：{m}CPI同比持平"),
        ("figure", "{c}{t}净利润{amt} 同比基本持平"),
        ("unchanged", "{cb}：1年期LPR维持{lpr}%不变"),
        ("unchanged", "{i}{w}窄幅震荡 收盘基本持平"),
        ("unchanged", "{sec}板块{w}涨跌互现"),
        ("negation", "{cc}：不存在应披露而未披露的重大信息"),
        ("mixed", "{c}{t}{sega}业务收入增长{p}% {segb}业务收入下降{pc}%"),
    ),
    ("report", POSITIVE): (
        (
            "figure",
            "{t}，{cc}实现营业收入{amt}，同比增长{p}%；"
            "归属于上市公司股东的净利润{amt2}，同比增长{p2}%。",
        ),
        ("figure", "报告期内，{cc}毛利率为{g}%，较上年同期提升{pp}个百分点。"),
        ("figure", "{cc}公告称，公司{t}实现归母净利润{amt}，同比增长{p}%。"),
        ("figure", "{t}，{c}经营活动产生的现金流量净额为{amt}，同比增长{p}%。"),
        ("event", "{cc}公告称，公司拟使用不低于{amt}的自有资金以集中竞价方式回购公司股份。"),
        ("event", "{cc}{y}年度利润分配预案为：向全体股东每10股派发现金红利{x}元（含税）。"),
        ("event", "{cc}于近日收到中标通知书，公司确认为{project}的中标单位，中标金额{amt}。"),
        ("event", "{cc}{holder}计划自本公告披露之日起6个月内增持公司股份，金额不低于{amt}。"),
        ("event", "{cm}{drug}的上市申请已获得国家药品监督管理局批准，公司产品线将进一步丰富。"),
        ("event", "{cc}预计{t}归属于上市公司股东的净利润同比增长{lo}%至{hi}%。"),
        (
            "macro",
            "{cb}决定于{d}降准{rr}个百分点，释放长期资金约{tril}万亿元。",
        ),
        (
            "turnaround",
            "{cc}{t}实现扭亏为盈，归属于上市公司股东的净利润为{amt}，上年同期为亏损。",
        ),
        (
            "loss_narrowing",
            "{cc}{t}归属于上市公司股东的净亏损为{amt}，亏损额较上年同期收窄{pc}%。",
        ),
        (
            "contrast",
            "虽然{t}营业收入同比下降{pc}%，但{c}归母净利润同比增长{p}%，盈利能力明显改善。",
        ),
        ("contrast", "尽管行业需求整体承压，但{c}{t}市场占有率逆势提升{pp}个百分点。"),
        ("expectation", "{cc}{t}实现净利润{amt}，同比增长{p}%，好于市场预期。"),
        ("negation", "{cc}表示，{factor}并未对公司生产经营产生重大不利影响，目前在手订单充足。"),
    ),
    ("report", NEGATIVE): (
        (
            "figure",
            "{t}，{cc}实现营业收入{amt}，同比下降{pc}%；"
            "归属于上市公司股东的净利润{amt2}，同比下降{pc2}%。",
        ),
        ("figure", "报告期内，{cc}毛利率为{g}%，较上年同期下降{pp}个百分点。"),
        ("figure", "{cc}公告称，公司{t}实现归母净利润{amt}，同比下降{pc}%。"),
        ("figure", "{t}，{c}归母净亏损{amt}，亏损额较上年同期扩大{pc}%。"),
        ("event", "{cc}公告称，公司{holder}计划通过集中竞价方式减持不超过{ps}%的公司股份。"),
        (
            "event",
            "{cc}于{d}收到中国证监会下发的《立案告知书》，"
            "因公司涉嫌信息披露违法违规，中国证监会决定对公司立案。",
        ),
        ("event", "{c}发行的{bond}未按期足额偿付本息，已构成实质性违约。"),
        ("event", "受下游需求疲软影响，{c}决定裁减员工约{n}人，并关闭部分生产线。"),
        ("event", "{cc}及相关责任人收到{reg}出具的《行政处罚决定书》，公司被处以罚款{amt}。"),
        ("event", "{cc}预计{t}归属于上市公司股东的净利润同比下降{lo}%至{hi}%。"),
        ("event", "{c}重大资产重组事项未获审核通过，公司股票将于{d}复牌。"),
        (
            "turnaround",
            "{cc}预计{t}归属于上市公司股东的净利润亏损{amt}，上年同期盈利{amt2}，业绩由盈转亏。",
        ),
        (
            "contrast",
            "虽然{c}{t}营业收入同比增长{p}%，但归母净利润同比下降{pc}%，增收不增利。",
        ),
        ("contrast", "尽管{c}此前宣布回购计划，但股价仍连续下跌，累计跌幅超过{pc}%。"),
        ("expectation", "{cc}{t}实现净利润{amt}，同比下降{pc}%，低于市场预期。"),
        ("negation", "{cc}未能在法定期限内披露{y}年年度报告，公司股票自{d}起停牌。"),
    ),
    ("report", NEUTRAL): (
        ("procedural", "{cc}将于{d}召开{y}年第{k}次临时股东大会，审议{matter}等议案。"),
        ("procedural", "{cc}{y}年年度报告预约披露日期为{d}。"),
        ("procedural", "{cc}董事会同意聘任{person}为公司{role}，任期至本届董事会届满之日止。"),
        ("procedural", "经股东大会审议通过，公司名称由“{c}”变更为“{c2}”，证券代码保持不变。"),
        ("procedural", "{cc}注册地址由{city}变更为{city2}，已完成工商变更登记手续。"),
        (
            "procedural",
            "本次股东大会采用现场投票与网络投票相结合的方式召开，出席会议的股东共{n}名。",
        ),
        ("procedural", "{cc}将于{d}15:00-16:00举行{y}年度业绩说明会，投资者可通过网络参与。"),
        ("procedural", "{c}本次发行的可转换公司债券将于{d}起在上交所挂牌交易。"),
        ("figure", "{t}，{cc}实现营业收入{amt}，与上年同期基本持平。"),
        ("figure", "{stat}发布数据显示，{m}全国居民消费价格指数同比持平。"),
        ("data", "{cb}公布数据显示，截至{m}末，广义货币（M2）余额为{mtwo}万亿元。"),
        (
            "unchanged",
            "{cb}公布，1年期贷款市场报价利率为{lpr}%，5年期以上为{lpr5}%，均与上月保持不变。",
        ),
        (
            "negation",
            "{cc}股票交易价格连续三个交易日异常波动，经自查，公司不存在应披露而未披露的重大信息。",
        ),
        ("mixed", "{cc}{t}{sega}业务收入同比增长{p}%，{segb}业务收入同比下降{pc}%。"),
    ),
    ("analyst", POSITIVE): (
        ("event", "{broker}将{c}评级由“中性”上调至“买入”，认为公司订单增长确定性较强。"),
        ("event", "我们认为{sec}行业景气度持续回升，{c}有望充分受益，首次覆盖给予“增持”评级。"),
        ("macro", "分析师指出，央行降准释放长期流动性，利好{sec}板块估值修复。"),
        ("event", "{broker}上调{c}{y}年盈利预测{pc}%，目标价上调至{price}元。"),
        ("figure", "我们预计{c}{y}年净利润同比增长{p}%，维持“强烈推荐”评级。"),
        (
            "expectation",
            "{broker}发布研报称，{c}{t}业绩超出预期，维持“买入”评级，目标价{price}元。",
        ),
        (
            "contrast",
            "尽管短期面临原材料成本压力，但我们认为{c}长期竞争力稳固，上调目标价至{price}元。",
        ),
        (
            "contrast",
            "虽然{c}{t}收入略低于预期，但毛利率显著提升，盈利质量好于预期，维持“买入”评级。",
        ),
        ("loss_narrowing", "{c}{t}亏损同比收窄{pc}%，经营拐点已现，我们上调盈利预测。"),
        ("turnaround", "{broker}认为，{c}有望在{y}年实现扭亏为盈，给予“买入”评级。"),
        (
            "negation",
            "市场担忧的需求下滑并未出现，{c}{t}出货量同比增长{p}%，我们维持“买入”评级。",
        ),
    ),
    ("analyst", NEGATIVE): (
        ("expectation", "{broker}下调{c}评级至“减持”，理由是{t}业绩不及预期、需求持续疲软。"),
        ("event", "我们下调{c}{y}年盈利预测{pc}%，目标价下调至{price}元，维持“卖出”评级。"),
        ("event", "分析师认为，{sec}行业产能过剩问题短期难以缓解，板块估值仍有下行压力。"),
        (
            "expectation",
            "{broker}指出，{c}{t}净利润同比下降{pc}%，低于市场一致预期，评级下调至“中性”。",
        ),
        ("event", "我们预计{sec}需求将继续走弱，建议投资者回避相关个股。"),
        (
            "contrast",
            "虽然{c}{t}营收同比增长{p}%，但毛利率大幅下滑，我们下调目标价至{price}元。",
        ),
        ("contrast", "尽管估值已处于历史低位，但我们认为{c}基本面仍在恶化，维持“卖出”评级。"),
        ("negation", "{c}并未如市场预期般实现产能释放，{t}出货量低于预期，我们下调盈利预测。"),
        ("negation", "此前市场期待的政策利好并未落地，{sec}板块短期或继续承压。"),
        ("turnaround", "{broker}预计{c}{y}年将由盈转亏，评级下调至“卖出”。"),
    ),
    ("analyst", NEUTRAL): (
        ("event", "{broker}维持{c}“中性”评级，目标价{price}元。"),
        ("unchanged", "我们维持对{c}{y}年的盈利预测不变，维持“持有”评级。"),
        ("unchanged", "分析师表示，{cb}本次大概率维持政策利率不变，市场已有充分预期。"),
        ("event", "{sec}板块当前估值处于历史中位水平，建议关注后续政策落地情况。"),
        ("expectation", "{c}{t}业绩符合预期，收入与利润均与此前业绩预告一致。"),
        ("event", "{broker}首次覆盖{c}，给予“中性”评级。"),
        ("event", "我们认为{sec}行业短期供需基本平衡，维持行业“中性”评级。"),
        ("figure", "{broker}研报指出，{c}{t}营收与去年同期持平，维持此前盈利预测。"),
        (
            "contrast",
            "虽然{c}{t}收入增速有所放缓，但利润率有所改善，整体表现符合预期，维持“持有”评级。",
        ),
    ),
    ("forum", POSITIVE): (
        ("stance", "{fs}明天必涨停！满仓干了"),
        ("stance", "终于解套了，{fs}稳了！"),
        ("stance", "{i}今天放量大涨，明天继续加仓！"),
        ("stance", "利好出来了，{fs}主力在抢筹，拿住别下车！"),
        ("stance", "昨天抄底{fs}，今天就涨停了，爽！"),
        ("stance", "{sec}要起飞了，空仓的赶紧上车！"),
        ("stance", "业绩预增{lo}%-{hi}%，{fs}这还不涨？拿稳了"),
        ("stance", "降准了兄弟们，明天大盘必红！"),
        ("stance", "{fs}回购{amt}，底部已经确认，坚定持有！"),
        ("turnaround", "{fs}扭亏为盈了，主力要拉升了！"),
        ("contrast", "虽然今天被洗了一把，但{fs}主力根本没走，明天继续涨！"),
        ("negation", "别被吓到，{fs}这次根本不是利空，反而是大利好！"),
        ("negation", "{fs}跌了这么多，不会再跌了，抄底！"),
    ),
    ("forum", NEGATIVE): (
        ("stance", "{fs}又跌停了，被套{pc}%，完了"),
        ("stance", "割肉了，{fs}再也不碰了！"),
        ("stance", "大盘天天跌，韭菜又被收割了"),
        ("stance", "庄家在出货，{fs}快跑！"),
        ("stance", "利空来了，{fs}被立案调查，明天肯定跌停"),
        ("stance", "满仓{fs}被埋，心态崩了"),
        ("stance", "业绩暴雷，{fs}净利润下降{pc}%，还拿着的自求多福吧"),
        ("stance", "{fs}减持公告又来了，大股东跑路，散户接盘！"),
        ("stance", "{i}又跳水了，这行情还玩什么，清仓了！"),
        ("turnaround", "{fs}由盈转亏，主力早跑了，就剩我们这些韭菜"),
        ("contrast", "虽然今天反弹了一点，但{fs}趋势已经走坏，明天还得跌"),
        ("negation", "说好的利好呢？{fs}不涨反跌，又被坑了"),
        ("negation", "{fs}业绩根本没有增长，全靠讲故事，迟早要跌回原形"),
    ),
    ("forum", NEUTRAL): (
        ("question", "{fs}明天开股东大会，有人去现场吗？"),
        ("question", "请问{fs}的分红什么时候到账？"),
        ("stance", "{fs}今天横盘一天，成交量也不大，观望"),
        ("stance", "空仓观望中，等{i}方向明确再说"),
        ("question", "有没有人知道{fs}年报哪天出？"),
        ("question", "{fs}改名了？代码变了没有"),
        ("stance", "今天{i}涨跌都不大，明天看看再说"),
        ("question", "{fs}什么时候复牌，有知道的吗？"),
        ("stance", "{fs}{t}业绩跟去年差不多，没惊喜也没雷"),
        ("question", "{fs}最新股东人数出来了吗？谁帮忙看下"),
        ("question", "新手请教一下，{fs}的除权日是哪天？"),
        ("negation", "不涨也不跌，{fs}就这么磨着吧"),
    ),
}

# ---------------------------------------------------------------- slots


def _pct(rng: random.Random, low: float, high: float) -> str:
    """A positive percentage figure between ``low`` and ``high``, as an int or one decimal."""
    value = rng.uniform(low, high)
    return str(round(value)) if rng.random() < 0.4 else f"{value:.1f}"


def company_name(rng: random.Random) -> str:
    """An invented company name: two distinct syllables and a suffix, e.g. 鼎盛科技."""
    first, second = rng.sample(SYLLABLES, 2)
    return f"{first}{second}{rng.choice(SUFFIXES)}"


def stock_code(rng: random.Random) -> str:
    """A plausible code in one of the usual spellings: 600519.SH, SH600519, 00700.HK."""
    market = rng.choice(("SH", "SH", "SZ", "SZ", "HK"))
    if market == "HK":
        return f"0{rng.randint(1, 9999):04d}.HK"
    head = rng.choice(("600", "601", "603", "688") if market == "SH" else ("000", "002", "300"))
    digits = f"{head}{rng.randint(0, 999):03d}"
    return f"{digits}.{market}" if rng.random() < 0.6 else f"{market}{digits}"


def amount_text(wan: float) -> str:
    """An amount given in 万元, written as releases write it: 亿元 from 1亿 up, else 万元."""
    return f"{wan / 10_000:.2f}亿元" if wan >= 10_000 else f"{round(wan)}万元"


def amount(rng: random.Random) -> str:
    """An amount of money between 200万元 and 500亿元, log-uniform."""
    return amount_text(10 ** rng.uniform(math.log10(200), math.log10(5_000_000)))


def person(rng: random.Random) -> str:
    """A two- or three-character personal name."""
    given = "".join(rng.sample(GIVEN, rng.choice((1, 2))))
    return f"{rng.choice(SURNAMES)}{given}"


def date(rng: random.Random) -> str:
    """A day of the year, e.g. 4月28日."""
    return f"{rng.randint(1, 12)}月{rng.randint(1, 28)}日"


class Slots(dict[str, str]):
    """The values of one template's slots, each drawn the first time it is asked for.

    ``str.format_map`` asks for the slots a pattern names, so a pattern consumes only
    the random draws it needs, and dependent slots (``hi`` after ``lo``, ``c2`` unlike
    ``c``) see the values already drawn.
    """

    def __init__(self, rng: random.Random) -> None:
        super().__init__()
        self.rng = rng

    def __missing__(self, key: str) -> str:
        value = self._draw(key)
        self[key] = value
        return value

    def _draw(self, key: str) -> str:
        """Draw the value of slot ``key``."""
        rng = self.rng
        if key in _SIMPLE_SLOTS:
            return _SIMPLE_SLOTS[key](rng)
        if key == "c2":
            return self._other(company_name, self["c"])
        if key == "cc":
            code = f"（{stock_code(rng)}）" if rng.random() < 0.35 else ""
            return f"{self['c']}{code}"
        if key == "fs":
            return self._forum_stock()
        if key == "amt2":
            return self._smaller_amount()
        if key == "cm":
            first, second = rng.sample(SYLLABLES, 2)
            return f"{first}{second}{rng.choice(('医药', '生物', '制药', '药业'))}"
        if key == "hi":
            return str(int(self["lo"]) + rng.randint(10, 60))
        if key in _SECOND_SLOTS:
            return self._other(_SIMPLE_SLOTS[_SECOND_SLOTS[key]], "")
        raise KeyError(key)

    def _other(self, draw: Callable[[random.Random], str], unlike: str) -> str:
        """A fresh draw that differs from ``unlike`` and from every value drawn so far."""
        while True:
            value = draw(self.rng)
            if value != unlike and value not in self.values():
                return value

    def _smaller_amount(self) -> str:
        """A second amount, 2% to 40% of the first (a profit beside its revenue)."""
        first = self["amt"]
        wan = float(first[:-2]) * (10_000 if first.endswith("亿元") else 1)
        return amount_text(max(wan * self.rng.uniform(0.02, 0.4), 50))

    def _forum_stock(self) -> str:
        """A stock as forum posts write it: a short name, Xueqiu's $name(code)$, or a code."""
        rng = self.rng
        first, second = rng.sample(SYLLABLES, 2)
        short = f"{first}{second}"
        style = rng.random()
        if style < 0.55:
            return short
        if style < 0.8:
            return f"${short}{rng.choice(SUFFIXES)}({stock_code(rng)})$"
        return f"{short}（{stock_code(rng).split('.')[0].removeprefix('SH').removeprefix('SZ')}）"


#: Slots drawn like another slot but different from it (a second city, segment, figure).
_SECOND_SLOTS = {"city2": "city", "segb": "sega", "p2": "p", "pc2": "pc"}
_SIMPLE_SLOTS: dict[str, Callable[[random.Random], str]] = {
    "c": company_name,
    "amt": amount,
    "person": person,
    "d": date,
    "cb": lambda rng: rng.choice(CENTRAL_BANK),
    "stat": lambda rng: rng.choice(STATISTICS),
    "reg": lambda rng: rng.choice(REGULATORS),
    "sec": lambda rng: rng.choice(SECTORS),
    "i": lambda rng: rng.choice(INDICES),
    "t": lambda rng: rng.choice(PERIODS),
    "w": lambda rng: rng.choice(WHEN),
    "y": lambda rng: rng.choice(YEARS),
    "m": lambda rng: f"{rng.randint(1, 12)}月份",
    "broker": lambda rng: rng.choice(BROKERS),
    "role": lambda rng: rng.choice(ROLES),
    "holder": lambda rng: rng.choice(HOLDERS),
    "project": lambda rng: rng.choice(PROJECTS),
    "factor": lambda rng: rng.choice(FACTORS),
    "matter": lambda rng: rng.choice(MATTERS),
    "city": lambda rng: rng.choice(CITIES),
    "sega": lambda rng: rng.choice(SEGMENTS),
    "k": lambda rng: rng.choice(ORDINALS),
    "lpr": lambda rng: rng.choice(LPR_1Y),
    "lpr5": lambda rng: rng.choice(LPR_5Y),
    # growth (may exceed 100%), a capped fall, a small move, percentage points, a margin
    "p": lambda rng: _pct(rng, 1, 150),
    "pc": lambda rng: _pct(rng, 1, 90),
    "ps": lambda rng: f"{rng.uniform(0.1, 4.5):.2f}",
    "pp": lambda rng: f"{rng.uniform(0.3, 8.0):.1f}",
    "g": lambda rng: f"{rng.uniform(8, 75):.1f}",
    "lo": lambda rng: str(rng.randint(5, 30)),
    "x": lambda rng: f"{rng.uniform(0.5, 30):.2f}".rstrip("0").rstrip("."),
    "price": lambda rng: f"{rng.uniform(4, 320):.2f}",
    "n": lambda rng: str(rng.randint(60, 6000)),
    "rr": lambda rng: rng.choice(("0.25", "0.5")),
    "tril": lambda rng: f"{rng.uniform(0.5, 1.2):.1f}",
    "mtwo": lambda rng: f"{rng.uniform(280, 340):.1f}",
    "bond": lambda rng: (
        f"“{rng.randint(19, 24)}{''.join(rng.sample(SYLLABLES, 2))}0{rng.randint(1, 3)}”"
    ),
    "drug": lambda rng: f"{''.join(rng.sample('ABHJKLMRSTXZ', 2))}{rng.randint(100, 9999)}注射液",
}

# ---------------------------------------------------------------- traditional Chinese

#: Simplified -> traditional pairs for the characters this vocabulary uses (one to one;
#: a character with several traditional forms takes the one these texts need, e.g. 干 in
#: a forum's "all in" is 幹; characters whose traditional form depends on the word, such as
#: the surname and weekday character, are left as they are).
_PAIRS = (
    "万萬 仓倉 黄黃 与與 业業 东東 两兩 个個 丰豐 临臨 为為 举舉 么麼 义義 "
    "书書 买買 争爭 于於 亏虧 产產 亿億 们們 价價 会會 伟偉 传傳 体體 余餘 "
    "债債 偿償 储儲 关關 内內 册冊 军軍 冲衝 决決 况況 净淨 准準 减減 划劃 "
    "刘劉 则則 刚剛 创創 别別 务務 动動 势勢 区區 医醫 华華 协協 单單 卖賣 "
    "历歷 压壓 参參 发發 变變 后後 吓嚇 吗嗎 吴吳 员員 响響 团團 园園 国國 "
    "场場 坏壞 块塊 坚堅 处處 备備 复復 头頭 孙孫 实實 审審 对對 导導 将將 "
    "尽盡 届屆 属屬 币幣 师師 帮幫 干幹 并並 广廣 庄莊 应應 开開 异異 张張 "
    "弹彈 强強 归歸 当當 忧憂 态態 总總 恶惡 惊驚 战戰 户戶 扩擴 抢搶 报報 "
    "担擔 拟擬 挂掛 损損 换換 据據 数數 时時 显顯 晓曉 机機 权權 来來 杨楊 "
    "杰傑 构構 标標 横橫 气氣 汇匯 汉漢 没沒 沪滬 测測 济濟 涛濤 润潤 涨漲 "
    "满滿 滨濱 点點 独獨 现現 电電 疗療 监監 盖蓋 盘盤 着著 码碼 确確 称稱 "
    "税稅 稳穩 竞競 筹籌 签簽 紧緊 红紅 约約 级級 线線 组組 终終 经經 结結 "
    "给給 络絡 统統 继繼 绩績 续續 维維 缓緩 网網 罗羅 罚罰 联聯 苏蘇 荐薦 "
    "荡蕩 药藥 获獲 营營 虽雖 观觀 规規 计計 订訂 认認 议議 记記 讲講 设設 "
    "证證 评評 说說 请請 谁誰 调調 财財 责責 账賬 货貨 质質 购購 贷貸 费費 "
    "资資 赵趙 赶趕 趋趨 车車 轨軌 转轉 软軟 较較 辉輝 输輸 达達 过過 还還 "
    "这這 进進 远遠 违違 连連 迟遲 选選 采採 释釋 银銀 锦錦 长長 闭閉 问問 "
    "际際 陈陳 险險 难難 静靜 项項 预預 领領 题題 额額 风風 飞飛 饱飽 马馬 "
    "鹏鵬"
)
TO_TRADITIONAL = str.maketrans({pair[0]: pair[1] for pair in _PAIRS.split()})


def to_traditional(text: str) -> str:
    """``text`` in Traditional Chinese, character by character (enough for these texts)."""
    return text.translate(TO_TRADITIONAL)


# ---------------------------------------------------------------- generation


@dataclass(frozen=True)
class Sample:
    """One generated text: its label (raw, 0 negative, 1 positive, 2 neutral), register,
    template kind, and whether it was converted to Traditional Chinese."""

    text: str
    label: int
    register: str
    kind: str
    traditional: bool

    def soft(self, smoothing: float) -> tuple[float, float, float]:
        """Soft labels (p_negative, p_neutral, p_positive): the kind's override, else the
        one-hot label with ``smoothing`` spread evenly over the other two classes."""
        if self.kind in SOFT_OVERRIDES and self.label == POSITIVE:
            return SOFT_OVERRIDES[self.kind]
        canonical = {NEGATIVE: 0, NEUTRAL: 1, POSITIVE: 2}[self.label]
        probs = [smoothing / 2] * 3
        probs[canonical] = 1.0 - smoothing
        return (probs[0], probs[1], probs[2])


def render(rng: random.Random, register: str, label: int) -> tuple[str, str]:
    """One text of ``register`` with ``label``: (text, template kind)."""
    kind, pattern = rng.choice(TEMPLATES[(register, label)])
    return pattern.format_map(Slots(rng)), kind


def balanced_labels(rng: random.Random, n: int) -> list[int]:
    """``n`` labels, a third each (the remainder to the first labels), in random order."""
    labels = [(NEGATIVE, POSITIVE, NEUTRAL)[i % 3] for i in range(n)]
    rng.shuffle(labels)
    return labels


def generate(n: int, seed: int, traditional: float = 0.1) -> list[Sample]:
    """``n`` unique labelled texts, deterministic for ``seed``; about ``traditional`` of
    them in Traditional Chinese."""
    rng = random.Random(seed)
    seen: set[str] = set()
    samples: list[Sample] = []
    for label in balanced_labels(rng, n):
        for _ in range(10_000):
            register = rng.choices(REGISTERS, weights=REGISTER_WEIGHTS)[0]
            text, kind = render(rng, register, label)
            converted = rng.random() < traditional
            if converted:
                text = to_traditional(text)
            if text not in seen:
                break
        else:
            raise RuntimeError(f"no new text for label {label} after 10000 tries")
        seen.add(text)
        samples.append(Sample(text, label, register, kind, converted))
    return samples


def write_csv(samples: list[Sample], out: Path, smoothing: float, soft: bool = True) -> None:
    """Write ``text,label`` and, with ``soft``, the soft-label columns to ``out``."""
    with out.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label", *(SOFT_COLUMNS if soft else ())])
        for s in samples:
            probs = [f"{p:.6f}" for p in s.soft(smoothing)] if soft else []
            writer.writerow([s.text, str(s.label), *probs])


def summary(samples: list[Sample]) -> str:
    """Counts by label, by register (with labels), by kind, and of traditional texts."""
    labels = Counter(LABEL_NAMES[s.label] for s in samples)
    lines = [f"{len(samples)} texts; by label: {dict(sorted(labels.items()))}"]
    for register in REGISTERS:
        mine = [s for s in samples if s.register == register]
        by_label = Counter(LABEL_NAMES[s.label] for s in mine)
        lines.append(f"  {register:<9} {len(mine):>5}  {dict(sorted(by_label.items()))}")
    kinds = Counter(s.kind for s in samples)
    lines.append(f"by kind: {dict(kinds.most_common())}")
    hard = sum(s.kind in HARD_KINDS for s in samples)
    lines.append(f"hard cases: {hard}; traditional: {sum(s.traditional for s in samples)}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--n", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--traditional", type=float, default=0.1, help="share converted")
    parser.add_argument("--smoothing", type=float, default=0.1, help="label smoothing")
    parser.add_argument("--no-soft", action="store_true", help="write text,label only")
    args = parser.parse_args()
    samples = generate(args.n, args.seed, args.traditional)
    write_csv(samples, args.out, args.smoothing, soft=not args.no_soft)
    print(f"wrote {args.out}")
    print(summary(samples))


if __name__ == "__main__":
    main()
