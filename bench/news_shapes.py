"""Wide English financial-news shapes for the distillation transfer set.

``bench/transfer_set.py --shapes wide`` draws half of its texts from here. The module
holds a few hundred sentence and headline templates (markets and macro, company news
beyond reported numbers, analyst language, quotes, boilerplate) with slots filled at
random: company names passed in by the caller, figures, percentages, amounts, periods,
dates and job titles. Labels are not implied by a template; a teacher scores the texts
later, so positive, negative, neutral and mixed news appear alike.

The templates were written for finsent by hand, without reference to any evaluation
set (the shipped news and Chinese sets included) or any public data set.
``wide_text`` is the single entry point and is deterministic given its ``rng``.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable

GENERIC = (
    "the company",
    "the group",
    "the bank",
    "the retailer",
    "the insurer",
    "the miner",
    "the airline",
    "the carmaker",
    "the chipmaker",
    "the utility",
    "the software maker",
    "the lender",
    "the drugmaker",
    "the telecoms operator",
)
MARKETS = (
    "European shares",
    "Wall Street stocks",
    "Asian shares",
    "Tokyo stocks",
    "London's blue chips",
    "Nordic shares",
    "Emerging-market stocks",
    "U.S. stock futures",
    "German shares",
    "Bank stocks",
    "Technology shares",
)
INDICES = (
    "the S&P 500",
    "the Nasdaq Composite",
    "the pan-European STOXX 600",
    "the FTSE 100",
    "Germany's DAX",
    "the CAC 40",
    "the Nikkei",
    "the Hang Seng",
    "the OMX Helsinki 25",
    "Sweden's OMXS30",
    "the Dow Jones Industrial Average",
)
CENTRAL_BANKS = (
    "the Federal Reserve",
    "the European Central Bank",
    "the Bank of England",
    "the Bank of Japan",
    "the Riksbank",
    "Norges Bank",
    "the Swiss National Bank",
    "the Bank of Canada",
)
ECONOMIES = (
    "the euro zone",
    "the United States",
    "Germany",
    "China",
    "Japan",
    "Britain",
    "France",
    "Sweden",
    "Finland",
    "Italy",
)
FX = (
    "the euro",
    "the dollar",
    "sterling",
    "the yen",
    "the Swiss franc",
    "the Swedish crown",
    "the Norwegian crown",
    "the yuan",
)
COMMODITIES = (
    "Brent crude",
    "U.S. crude",
    "copper",
    "gold",
    "aluminium",
    "European gas prices",
    "iron ore",
    "nickel",
    "wheat futures",
    "palm oil",
    "lithium prices",
)
TITLES = (
    "chief executive",
    "chief financial officer",
    "chairman",
    "chief operating officer",
    "chief technology officer",
    "head of investor relations",
    "president",
    "head of the retail division",
)
BROKERS = (
    "Morgan Stanley",
    "JPMorgan",
    "UBS",
    "Barclays",
    "Jefferies",
    "Citi",
    "Deutsche Bank",
    "Nordea",
    "SEB",
    "Berenberg",
    "Bernstein",
    "Danske Bank",
    "Carnegie",
    "Inderes",
)
AGENCIES = ("Moody's", "S&P Global Ratings", "Fitch", "Fitch Ratings", "Scope Ratings")
RATINGS = ("A+", "A", "A-", "BBB+", "BBB", "BBB-", "BB+", "BB", "B+", "A3", "Baa1", "Baa3", "Ba2")
RECOS_UP = ("buy", "overweight", "outperform", "hold", "neutral", "accumulate")
RECOS_DOWN = ("sell", "underweight", "underperform", "hold", "neutral", "reduce")
RECOS = ("buy", "hold", "sell", "overweight", "underweight", "neutral", "outperform", "reduce")
PRODUCTS = (
    "electric van",
    "cloud platform",
    "diabetes drug",
    "5G base station",
    "mid-size sedan",
    "payments app",
    "offshore wind turbine",
    "smartphone",
    "cancer treatment",
    "data-centre chip",
    "heat pump",
    "subscription service",
    "container ship",
    "battery cell",
)
UNITS_OF = (
    "its consumer electronics unit",
    "its North American business",
    "its paper mills",
    "its retail banking arm",
    "its logistics division",
    "its Chinese joint venture",
    "its packaging business",
    "its software segment",
    "its Russian operations",
    "its wealth management unit",
)
PLACES = (
    "Finland",
    "Poland",
    "Texas",
    "Ohio",
    "northern Sweden",
    "Vietnam",
    "Mexico",
    "India",
    "Bavaria",
    "Hungary",
    "the Netherlands",
    "Brazil",
)
HEADWINDS = (
    "weak demand in China",
    "higher energy costs",
    "a stronger dollar",
    "supply-chain disruption",
    "lower freight rates",
    "falling steel prices",
    "cautious consumers",
    "higher interest rates",
    "a slowdown in construction",
    "destocking by customers",
    "wage inflation",
    "U.S. tariffs",
)
TAILWINDS = (
    "strong demand for its cloud services",
    "higher prices",
    "cost cuts",
    "a recovery in orders",
    "robust travel demand",
    "firmer metal prices",
    "growth in services",
    "a rebound in advertising",
    "demand for artificial intelligence hardware",
    "a weaker euro",
    "higher interest income",
)
CUSTOMERS = (
    "a European utility",
    "the Finnish Defence Forces",
    "a U.S. telecoms operator",
    "a Middle Eastern airline",
    "the Swedish Transport Administration",
    "a German carmaker",
    "a large Asian shipyard",
    "the city of Helsinki",
    "a global mining company",
    "a Nordic retailer",
)
REGULATORS = (
    "the European Commission",
    "U.S. antitrust authorities",
    "Britain's Competition and Markets Authority",
    "the Finnish competition authority",
    "China's market regulator",
    "the Securities and Exchange Commission",
    "the Financial Conduct Authority",
    "the Federal Trade Commission",
)
DATES = (
    "24 October",
    "5 February",
    "March 12",
    "April 28",
    "July 17",
    "November 3",
    "9 May",
    "August 21",
    "June 30",
    "1 December",
    "January 15",
)
PERIODS = (
    "the first quarter",
    "the second quarter",
    "the third quarter",
    "the fourth quarter",
    "the first half",
    "the second half",
    "the full year",
    "January-September",
    "the July-September period",
    "the three months to March",
)
QUARTERS = ("first-quarter", "second-quarter", "third-quarter", "fourth-quarter", "full-year")
METRICS = (
    "sales",
    "revenue",
    "operating profit",
    "net profit",
    "earnings",
    "margins",
    "order intake",
    "comparable sales",
    "free cash flow",
    "adjusted EBIT",
    "deliveries",
    "net interest income",
)
YEARS = ("2026", "2027", "2028")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
CURRENCIES = ("EUR", "USD", "SEK", "GBP", "NOK", "CHF", "$", "€", "£")
MONEY_UNITS = ("million", "billion", "mn", "bn")

MARKET_SENTENCES = (
    "{Mkt} edged lower on {wd} as investors awaited {cb_poss} rate decision.",
    "{Mkt} rose to a record high, led by gains in {sector} stocks.",
    "{Mkt} fell {pct_s}% in early trade after weaker-than-expected data from {eco}.",
    "{Mkt} were little changed as gains in {sector} offset losses in {sector2}.",
    "{Idx} closed {pct_s}% higher, its best day in {n_small} weeks.",
    "{Idx} slid {pct_s}% as bond yields climbed to their highest since {yr_past}.",
    "{Idx} ended the week flat after a volatile session.",
    "{Idx} gained {pct_s}% on {wd}, although trading volumes were thin.",
    "{Idx} dropped {pct_s}%, dragged down by {sector} shares.",
    "{Mkt} recovered from early losses to close {pct_s}% higher.",
    "Stocks around the world sold off as fears of a recession in {eco} grew.",
    "{Mkt} snapped a {n_small}-day losing streak on bargain hunting.",
    "{Mkt} struggled for direction ahead of a busy week of earnings.",
    "Despite a strong start, {idx} gave up its gains by the close.",
    "Investors moved into defensive sectors such as utilities and health care.",
    "Volatility rose sharply, with the VIX index climbing to {n_small}-month highs.",
    "{Mkt} are on course for their biggest monthly gain since {yr_past}.",
    "{Mkt} slipped for a third straight session as {headwind} weighed on sentiment.",
)
CENTRAL_BANK_SENTENCES = (
    "{Cb} raised interest rates by {bp} basis points to {rate}%, as expected.",
    "{Cb} cut its main rate by {bp} basis points to {rate}% and signalled more cuts ahead.",
    "{Cb} left rates unchanged at {rate}% and said it was in no hurry to ease policy.",
    "{Cb} held rates at {rate}% but dropped its reference to further tightening.",
    "{Cb} unexpectedly raised rates by {bp} basis points, surprising markets.",
    "{Cb} kept its policy rate at {rate}%, in line with economists' forecasts.",
    "Policymakers at {cb} signalled that rates could stay higher for longer.",
    "{Cb} said inflation risks remained tilted to the upside.",
    "Markets now price in {n_small} rate cuts by {cb} by the end of {yr}.",
    "{Cb} is widely expected to cut rates at its meeting on {date}.",
    "{Cb} did not change its guidance, saying decisions would depend on the data.",
    "{Cb} lowered its growth forecast for {yr} to {pct_s}%.",
    "{Cb} warned that the economy could slow more sharply than previously thought.",
    "A policymaker at {cb} said it was too early to declare victory over inflation.",
    "{Cb} will slow the pace of its bond purchases from next month.",
)
MACRO_SENTENCES = (
    "Inflation in {eco} eased to {pct_s}% in {month}, the lowest level in {n_small} years.",
    "Consumer prices in {eco} rose {pct_s}% from a year earlier, above forecasts.",
    "Core inflation in {eco} was unchanged at {pct_s}%.",
    "Employers in {eco} added {jobs} jobs last month, far more than economists expected.",
    "The unemployment rate in {eco} rose to {pct_s}%, its highest in {n_small} years.",
    "Payroll growth in {eco} slowed to {jobs} in {month}, less than expected.",
    "The economy of {eco} grew {pct_s}% in {period}, beating forecasts.",
    "Gross domestic product in {eco} contracted {pct_s}% in {period}.",
    "{Eco_cap} narrowly avoided a recession as GDP was flat in {period}.",
    "The manufacturing PMI for {eco} fell to {pmi_low}, signalling contraction.",
    "The services PMI for {eco} rose to {pmi}, its highest reading in {n_small} months.",
    "Factory activity in {eco} expanded for the first time in {n_small} months.",
    "Retail sales in {eco} fell {pct_s}% in {month}, the biggest drop since {yr_past}.",
    "Business confidence in {eco} improved for a {ordinal} straight month.",
    "Exports from {eco} dropped {pct_s}% as demand in Europe remained weak.",
    "Consumer confidence in {eco} slumped to a {n_small}-month low.",
    "House prices in {eco} rose {pct_s}% in {month}, although mortgage approvals fell.",
    "The benchmark 10-year yield in {eco} rose {bp} basis points to {rate}%.",
    "Government bond yields fell as investors bet on earlier rate cuts.",
    "Two-year yields jumped after the inflation data.",
    "The yield curve inverted further, a signal some investors read as a recession warning.",
)
FX_COMMODITY_SENTENCES = (
    "{Fx} fell {pct_s}% against the dollar after the rate decision.",
    "{Fx} rose to its strongest level in {n_small} months.",
    "{Fx} weakened as traders scaled back bets on higher rates.",
    "{Fx} was steady ahead of the jobs report.",
    "{Comm} rose {pct_s}% after producers agreed to extend output cuts.",
    "{Comm} fell {pct_s}% on worries about demand in China.",
    "{Comm} hit a record high as investors sought safety.",
    "{Comm} slipped for a second day as inventories rose.",
    "{Comm} prices jumped after a supply disruption at a major mine.",
    "{Comm} was little changed, holding near a {n_small}-week low.",
    "Oil prices climbed above ${n_oil} a barrel on supply concerns.",
    "Oil fell below ${n_oil} a barrel as OPEC+ signalled higher output.",
    "Gold fell as the dollar strengthened and yields rose.",
    "Freight rates on the main Asia-Europe route fell {pct}% over the month.",
)
MA_SENTENCES = (
    "{C} agreed to buy {c2} for {amt} in cash.",
    "{C} has agreed to acquire {c2} in a deal valued at {amt}, including debt.",
    "{C} will sell {unit_of} to a private equity firm for {amt}.",
    "{C} rejected a {amt} takeover offer from {c2}, saying it undervalued the company.",
    "{C} said it had received a takeover approach from {c2} and was considering it.",
    "{C} abandoned its planned merger with {c2} after failing to agree on terms.",
    "{Reg} blocked {co_poss} acquisition of {c2} on competition grounds.",
    "{Reg} opened an in-depth investigation into {co_poss} planned purchase of {c2}.",
    "{Reg} cleared {co_poss} purchase of {c2}, subject to the sale of some assets.",
    "Shareholders of {c2} approved the merger with {co}.",
    "{C} raised its offer for {c2} to {amt} after its first bid was rebuffed.",
    "{C} said it was in early talks about a possible combination with {c2}.",
    "{C} completed the acquisition of {c2}, which will be consolidated from {date}.",
    "{C} is exploring a sale of {unit_of}, people familiar with the matter said.",
    "{C} walked away from talks to buy {c2}, citing the price.",
    "{C} will spin off {unit_of} into a separately listed company.",
    "{C} and {c2} agreed to merge in an all-share deal.",
    "The offer represents a premium of {pct}% to {co_poss} closing price on {date}.",
    "The board of {c2} unanimously recommends that shareholders accept the offer.",
    "The deal, which is subject to regulatory approval, is expected to close in {period}.",
)
IPO_SENTENCES = (
    "{C} priced its initial public offering at the top of the range.",
    "{C} priced its IPO below the marketed range, raising {amt}.",
    "Shares in {c} rose {pct}% on their first day of trading.",
    "Shares in {c} fell {pct}% in their stock market debut.",
    "{C} postponed its planned listing, citing market volatility.",
    "{C} plans to list its shares on the Nasdaq Helsinki main market.",
    "{C} is considering an IPO of {unit_of} as early as next year.",
    "{C} will move its primary listing to New York.",
    "{C} intends to apply for the delisting of its shares from the exchange.",
    "{C} raised {amt} in a directed share issue to institutional investors.",
    "{C} announced a rights issue of {amt} to strengthen its balance sheet.",
)
OPERATIONS_SENTENCES = (
    "{C} will cut about {jobs} jobs as part of a cost-saving programme.",
    "{C} plans to hire {jobs} people over the next {n_small} years.",
    "{C} started change negotiations that could lead to up to {jobs} redundancies.",
    "{C} said the job cuts would save about {amt} a year.",
    "{C} will close its plant in {place}, affecting about {jobs} employees.",
    "{C} opened a new factory in {place} that will employ {jobs} people.",
    "{C} will invest {amt} in a new production line in {place}.",
    "{C} temporarily halted production at its {place} site after a fire.",
    "{C} restarted output at its {place} mill after a {n_small}-week stoppage.",
    "Workers at {co_poss} {place} plant went on strike over pay.",
    "{C} reached a wage agreement with unions, ending a {n_small}-week strike.",
    "A strike at {co_poss} ports is expected to cost it about {amt}.",
    "{C} is recalling about {jobs} vehicles because of a faulty airbag sensor.",
    "{C} recalled a batch of its {product} after reports of overheating.",
    "{C} said the recall would not have a material impact on its results.",
    "{C} has been hit by shortages of components, delaying deliveries.",
    "{C} said supply-chain problems had eased and deliveries were back on schedule.",
    "{C} is moving part of its production from China to {place} to reduce supply risks.",
    "{C} said a cyber attack had disrupted some of its IT systems.",
    "{C} confirmed that customer data had been stolen in a ransomware attack.",
    "{C} said there was no evidence that customer data had been accessed.",
    "{C} restored its systems after a cyber incident and resumed normal operations.",
)
LEGAL_SENTENCES = (
    "{C} was fined {amt} by {reg} for breaching competition rules.",
    "{C} agreed to pay {amt} to settle a lawsuit brought by shareholders.",
    "{C} faces a class action lawsuit over alleged misleading statements.",
    "{C} won an appeal against a {amt} fine imposed by {reg}.",
    "{C} lost a patent dispute and must pay {amt} in damages.",
    "{Reg} opened an investigation into {co_poss} sales practices.",
    "{Reg} closed its probe into {co} without taking any action.",
    "Police raided {co_poss} offices as part of a bribery investigation.",
    "{C} said it was cooperating fully with the authorities.",
    "{C} denies the allegations and intends to defend itself vigorously.",
    "{C} set aside {amt} to cover potential legal costs.",
    "A court dismissed the claims against {co}.",
    "{C} was ordered to pay {amt} in back taxes, which it intends to appeal.",
)
PRODUCT_SENTENCES = (
    "{C} launched a new {product} aimed at small businesses.",
    "{C} delayed the launch of its {product} to {yr}.",
    "{C} said its new {product} had received strong early orders.",
    "{C} won regulatory approval for its {product} in the European Union.",
    "Regulators rejected {co_poss} application for its {product}.",
    "{C} halted a late-stage trial of its {product} after it failed to meet its main goal.",
    "{C} said its {product} met the primary endpoint in a late-stage study.",
    "{C} will stop selling its {product} in the United States.",
    "{C} unveiled its {product}, which it expects to reach the market in {yr}.",
    "Sales of {co_poss} {product} have been slower than planned.",
)
CONTRACT_SENTENCES = (
    "{C} won a {amt} contract from {customer}.",
    "{C} signed a {n_small}-year supply agreement with {customer}.",
    "{C} lost a major contract with {customer} to a rival.",
    "{Customer} cancelled an order with {co} worth about {amt}.",
    "{C} and {c2} formed a partnership to develop {product_pl}.",
    "{C} will supply equipment to {customer} under a deal worth {amt}.",
    "The value of the order was not disclosed.",
    "{C} ended its partnership with {c2}.",
    "{C} extended its framework agreement with {customer} until {yr}.",
    "{C} has been selected as preferred bidder by {customer}.",
    "The order will be booked in {co_poss} order intake for {period}.",
)
MANAGEMENT_SENTENCES = (
    "{C} said its {title} would step down with immediate effect.",
    "{co_poss_cap} {title} resigned abruptly after less than a year in the role.",
    "{C} appointed a new {title}, effective {date}.",
    "{C} named its current {title} as the next chief executive.",
    "The {title} of {co} will retire next year, and the board has begun a search for a successor.",
    "{C} said its {title} had been dismissed following an internal review.",
    "{C} said its {title} was leaving to pursue other opportunities.",
    "{C} announced an orderly succession, with its {title} taking over on {date}.",
    "The board of {co} has appointed an interim {title}.",
    "{C} said its {title} would take medical leave.",
    "Activist investors are pushing for changes to {co_poss} board.",
)
RATING_SENTENCES = (
    "{Agency} upgraded {co_poss} credit rating to {rating}, citing lower debt.",
    "{Agency} downgraded {co} to {rating}, citing weaker cash flow.",
    "{Agency} affirmed {co_poss} {rating} rating with a stable outlook.",
    "{Agency} revised its outlook on {co} to negative from stable.",
    "{Agency} changed the outlook on {co_poss} rating to positive.",
    "{Agency} placed {co_poss} rating on review for a possible downgrade.",
    "{Agency} cut {co_poss} rating to junk status.",
    "{Agency} affirmed the rating of {co} at {rating} but lowered the outlook.",
)
PAYOUT_SENTENCES = (
    "{C} raised its dividend by {pct}% and announced a buyback of up to {amt}.",
    "{C} cut its dividend to preserve cash.",
    "{C} suspended its dividend and share buyback programme.",
    "{C} proposed an unchanged dividend of {eps} per share.",
    "{C} will pay a special dividend of {eps} per share.",
    "{C} launched a share buyback of up to {amt}.",
    "{C} paused its share buyback programme.",
    "{C} reinstated its dividend after a two-year break.",
    "The board proposes a dividend of {eps} per share, to be paid in two instalments.",
    "{C} did not propose a dividend for the year.",
)
GUIDANCE_SENTENCES = (
    "{C} raised its full-year outlook, citing {tailwind}.",
    "{C} cut its full-year profit forecast because of {headwind}.",
    "{C} reaffirmed its guidance for {yr}.",
    "{C} withdrew its guidance, citing uncertainty about {headwind}.",
    "{C} no longer expects {metric} to grow this year.",
    "{C} now expects {metric} to be at the lower end of its range.",
    "{C} expects {metric} to improve in the second half of the year.",
    "{C} said it did not expect {metric} to recover before {yr}.",
    "{C} kept its outlook unchanged despite {headwind}.",
    "{C} said it still expects {metric} to grow, although at a slower pace.",
    "{C} narrowed its forecast range for {metric}.",
    "{C} issued a profit warning, saying {metric} would fall short of its earlier estimate.",
    "{C} expects {metric} to be roughly in line with last year.",
    "{C} said the outlook for {yr} remained uncertain.",
)
RESULTS_SENTENCES = (
    "{C} reported {metric} that beat analysts' expectations.",
    "{C} missed expectations as {headwind} weighed on {metric}.",
    "{co_poss_cap} {metric_pl} were in line with expectations.",
    "{co_poss_cap} {metric} fell {pct}%, less than expected.",
    "{co_poss_cap} {metric} rose {pct}%, more than analysts had forecast.",
    "{C} posted better-than-feared results for {period}.",
    "Results were weaker than expected, mainly due to {headwind}.",
    "{co_poss_cap} {metric} grew {pct}%, helped by {tailwind}.",
    "{co_poss_cap} {metric} declined {pct}% as {headwind} hit demand.",
    "Although {metric} rose {pct}%, profitability weakened because of {headwind}.",
    "{metric_cap} improved despite {headwind}.",
    "{C} swung to a loss of {amt} in {period} from a profit a year earlier.",
    "{C} returned to profit in {period}, earning {amt}.",
    "{C} narrowed its loss to {amt} in {period}.",
    "{co_poss_cap} loss widened to {amt} in {period}.",
    "{C} booked an impairment charge of {amt} related to {unit_of}.",
    "Excluding one-off items, {metric} would have risen {pct}%.",
    "{co_poss_cap} {metric_pl} were hit by {headwind}, but cost savings helped protect margins.",
    "Even as {metric} fell, {co} generated strong cash flow in {period}.",
    "{C} beat forecasts for {metric} but missed on margins.",
    "Order intake was strong, while {metric_pl} were slightly below expectations.",
    "{co_poss_cap} {metric} came in {pct_s}% above the consensus estimate.",
    "The result was {pct_s}% below the average forecast in a company-compiled poll.",
)
ANALYST_SENTENCES = (
    "{Broker} raised its price target on {co} to {tp_up}.",
    "{Broker} cut its price target on {co} to {tp_down}, citing {headwind}.",
    "{Broker} upgraded {co} to {reco_up}, saying the worst was over.",
    "{Broker} downgraded {co} to {reco_down} after a strong run in the shares.",
    "{Broker} initiated coverage of {co} with a rating of {reco} and a price target of {tp}.",
    "{Broker} reiterated its {reco} rating on {co}.",
    "Analysts at {broker} said the results were better than feared.",
    "Analysts at {broker} said the guidance looked too optimistic.",
    "{Broker} said {co_poss} valuation already reflected the risks.",
    "{Broker} lowered its earnings estimates for {co} by {pct}%.",
    "Analysts had expected {metric} of {amt}, according to a poll.",
    "The consensus among analysts is for {metric} to rise {pct}% this year.",
    "Most analysts rate the stock {reco}, according to data compiled by the exchange.",
)
SHARE_SENTENCES = (
    "Shares in {c} jumped {pct}% after the announcement.",
    "Shares in {c} fell {pct}% in early trading.",
    "Shares of {c} were down {pct_s}% at midday, underperforming the market.",
    "{co_poss_cap} shares closed {pct_s}% higher.",
    "{co_poss_cap} shares have lost a third of their value this year.",
    "{co_poss_cap} shares hit a record high after the news.",
    "{co_poss_cap} shares were little changed.",
    "The stock has risen {pct}% since the start of the year.",
    "Trading in {co_poss} shares was halted pending an announcement.",
    "{co_poss_cap} shares reversed early losses to trade {pct_s}% higher.",
)
RESTRUCTURING_SENTENCES = (
    "{C} filed for bankruptcy protection after failing to reach a deal with creditors.",
    "{C} agreed a debt restructuring with its lenders that will wipe out shareholders.",
    "{C} launched a restructuring programme to cut costs by {amt} a year.",
    "{C} said it had enough liquidity to fund operations for the next {n_small} months.",
    "{C} warned there was significant doubt about its ability to continue as a going concern.",
    "{C} secured a {amt} rescue package from its main shareholders.",
    "{C} emerged from bankruptcy protection with a smaller debt load.",
    "{C} breached a covenant on its loans and is negotiating a waiver.",
    "{C} said the restructuring was proceeding according to plan.",
)
DEBT_SENTENCES = (
    "{C} issued {amt} of {n_small}-year bonds at a coupon of {rate}%.",
    "{C} priced a {amt} green bond, which was {n_small} times oversubscribed.",
    "{C} refinanced its revolving credit facility on improved terms.",
    "{C} signed a {amt} loan with a group of Nordic banks.",
    "{C} repaid {amt} of debt ahead of schedule.",
    "{C} will redeem its outstanding notes due {yr}.",
    "{C} tapped the bond market for the first time since {yr_past}.",
)
QUOTE_SENTENCES = (
    "'We are disappointed with the result,' the {title} said.",
    "'This was a challenging quarter, but we are confident in our strategy,' the {title} said.",
    "'Demand has clearly weakened,' the {title} told reporters.",
    "'We delivered a strong quarter in a difficult market,' said the {title}.",
    "'We see no signs of a recovery yet,' the {title} said in a statement.",
    "'It is too early to say whether the market has bottomed,' the {title} said.",
    "'The acquisition strengthens our position in {place},' the {title} said.",
    "'We did not meet our own targets,' the {title} admitted.",
    "'Our order book has never been stronger,' the {title} said.",
    "'We expect the second half to be better than the first,' the {title} said.",
    "'Cost inflation is still a headwind, although it is easing,' the {title} said.",
    "'We are taking decisive action to restore profitability,' the {title} said.",
    "'Nothing has changed in our long-term targets,' the {title} told analysts.",
    "The {title} declined to comment on the talks.",
    "'This is a good deal for our shareholders,' {co_poss} {title} said.",
)
HEDGE_SENTENCES = (
    "{C} may cut more jobs if demand does not improve, the {title} said.",
    "{C} could raise prices again later this year.",
    "{C} is considering selling {unit_of}.",
    "{C} might need to raise new capital, analysts said.",
    "The deal could face scrutiny from {reg}.",
    "{C} is said to be weighing a bid for {c2}.",
    "It is not yet clear how the tariffs will affect {co_poss} margins.",
    "{C} said it may revise its targets once the review is complete.",
    "Higher rates could weigh on demand for {co_poss} products.",
    "Analysts said the cuts might not be enough to restore margins.",
)
LONG_SENTENCES = (
    "{C}, which has been hit by {headwind} over the past year, said on {wd} that it would "
    "cut {jobs} jobs and close its plant in {place}.",
    "Although {metric} rose {pct}% in {period}, {co} warned that {headwind} would weigh on "
    "results in the coming months.",
    "{C} said {metric} had improved thanks to {tailwind}, but added that the outlook for "
    "{yr} remained uncertain because of {headwind}.",
    "While {cb} has signalled that rates will stay high, investors continue to bet on "
    "cuts before the end of {yr}.",
    "{C}, which makes {product_pl}, said demand from customers in {place} had recovered "
    "faster than it expected.",
    "The deal, which values {c2} at {amt}, would create one of the largest companies in the "
    "sector if it is approved by {reg}.",
    "{Mkt} ended lower after data showed that inflation in {eco} had risen more than "
    "expected, reviving fears of further rate increases.",
    "{C} said it had not yet seen any improvement in demand, and that it did not expect "
    "{metric} to recover until {yr}.",
)
BOILERPLATE_SENTENCES = (
    "{C} is a global supplier of {product_pl} with operations in more than {n_small}0 countries.",
    "{C} will publish its {quarter} report on {date}.",
    "{C} will hold its annual general meeting on {date}.",
    "Notice is hereby given to the shareholders of {co} of the extraordinary general meeting.",
    "{C} employs about {jobs} people and its shares are listed on the stock exchange.",
    "This release contains forward-looking statements that involve risks and uncertainties.",
    "A webcast for investors and analysts will be held at 10:00 local time.",
    "The figures in this release are unaudited.",
    "{C} has changed the reporting structure of its segments as of {date}.",
    "The total number of shares and votes in {co} is {shares}.",
    "{C} has received a notification of a change in holdings from a shareholder.",
    "The board of {co} decided to convene the annual general meeting on {date}.",
    "{C} will not hold a press conference in connection with the report.",
    "{C} designs, manufactures and sells {product_pl} to customers worldwide.",
    "Comparative figures have been restated to reflect the new accounting policy.",
)
PRESS_SENTENCES = (
    "{C} is pleased to announce that it has signed an agreement with {customer}.",
    "{C} is pleased to announce the appointment of a new {title}.",
    "{C} is proud to announce the launch of its new {product}.",
    "{C} is delighted to welcome {c2} as a strategic partner.",
    "{C} hereby announces that it has completed its share buyback programme.",
    "{C} today announced that it will expand its operations in {place}.",
    "{C} regrets to announce that it will not meet its {yr} targets.",
)

HEADLINES = (
    "{c} shares slide as {headwind} bites",
    "{c} jumps on takeover talk",
    "{c} to buy {c2} for {amt}",
    "{c} rejects {c2} bid",
    "{c} scraps {c2} deal",
    "Regulator blocks {c}-{c2} merger",
    "{c} CEO quits abruptly",
    "{c} names new CFO",
    "{c} Q{qn} profit beats forecasts",
    "{c} Q{qn} sales miss estimates",
    "{c} results in line, outlook kept",
    "{c} profit falls less than expected",
    "{c} results better than feared",
    "{c} cuts {yr} outlook",
    "{c} lifts {yr} guidance on {tailwind}",
    "{c} withdraws guidance",
    "{c} reaffirms targets",
    "{c} to cut {jobs} jobs",
    "{c} to hire {jobs} in {place}",
    "{c} to close {place} plant",
    "{c} opens new plant in {place}",
    "Workers strike at {c}",
    "{c} recalls {jobs} vehicles",
    "{c} fined {amt}",
    "{c} settles lawsuit for {amt}",
    "{c} under investigation over accounting",
    "{c} hit by cyber attack",
    "{c} wins {amt} order",
    "{c} loses key customer",
    "{c}, {c2} team up on {product_pl}",
    "{agency} cuts {c} to {rating}",
    "{agency} upgrades {c}; outlook stable",
    "{agency} affirms {c} at {rating}",
    "{c} outlook revised to negative by {agency}",
    "{c} raises dividend {pct}%",
    "{c} slashes dividend",
    "{c} suspends buyback",
    "{c} files for bankruptcy",
    "{c} seeks creditor protection",
    "{c} prices {amt} bond",
    "{c} IPO priced at top of range",
    "{c} shelves IPO",
    "{c} delays {product} launch",
    "{c} launches {product}",
    "{broker} raises {c} target to {tp}",
    "{broker} cuts {c} to {reco_down}",
    "{broker} starts {c} at {reco}",
    "Is {c} a buy after the sell-off?",
    "Can {c} turn things around?",
    "What's next for {c} after the profit warning?",
    "Why {c} shares are falling today",
    "Why {c} stock soared this week",
    "{c} stock: is the worst over?",
    "Stocks fall as {cb} signals more hikes",
    "Stocks rally after {cb} cuts rates",
    "{Cb} holds rates, signals patience",
    "{EcoAdj} inflation cools to {pct_s}%",
    "{EcoAdj} economy shrinks in {period}",
    "{EcoAdj} jobless rate rises to {pct_s}%",
    "Oil jumps on supply fears",
    "Gold hits record as dollar slides",
    "{Fx} slips after weak data",
    "Bond yields climb to {n_small}-year high",
    "Markets wrap: {Mkt} end mixed",
    "UPDATE {qn}-{c} shares drop after guidance cut",
    "BRIEF-{c} says {metric} up {pct}%",
    "BRIEF-{c} appoints new {title}",
    "BUZZ-{c} falls; {broker} downgrades",
    "{c}: interim report for {period}",
    "{c}: notice of annual general meeting",
    "{c} - managers' transactions",
    "{c} publishes {quarter} report",
    "{c} sees no recovery before {yr}",
    "{c} says demand still weak",
    "{c} defends margins despite {headwind}",
    "{c} misses on sales but beats on profit",
    "{c} margin squeezed by {headwind}",
    "{c} swings to loss on impairment",
    "{c} returns to profit",
)

SECTORS = (
    "bank",
    "technology",
    "energy",
    "mining",
    "healthcare",
    "automotive",
    "retail",
    "luxury",
    "utility",
    "telecoms",
    "real estate",
)
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
ORDINALS = ("second", "third", "fourth", "fifth", "sixth")
ECONOMY_ADJ = (
    "Euro zone",
    "U.S.",
    "German",
    "Chinese",
    "Japanese",
    "British",
    "French",
    "Swedish",
    "Finnish",
    "Italian",
)
METRICS_PL = ("sales", "earnings", "margins", "deliveries", "orders", "volumes", "bookings")

SENTENCE_GROUPS = (
    MARKET_SENTENCES,
    CENTRAL_BANK_SENTENCES,
    MACRO_SENTENCES,
    FX_COMMODITY_SENTENCES,
    MA_SENTENCES,
    IPO_SENTENCES,
    OPERATIONS_SENTENCES,
    LEGAL_SENTENCES,
    PRODUCT_SENTENCES,
    CONTRACT_SENTENCES,
    MANAGEMENT_SENTENCES,
    RATING_SENTENCES,
    PAYOUT_SENTENCES,
    GUIDANCE_SENTENCES,
    RESULTS_SENTENCES,
    ANALYST_SENTENCES,
    SHARE_SENTENCES,
    RESTRUCTURING_SENTENCES,
    DEBT_SENTENCES,
    QUOTE_SENTENCES,
    HEDGE_SENTENCES,
    LONG_SENTENCES,
    BOILERPLATE_SENTENCES,
    PRESS_SENTENCES,
)

COMPANY_GROUPS = tuple(
    group
    for group in SENTENCE_GROUPS
    if group
    not in (MARKET_SENTENCES, CENTRAL_BANK_SENTENCES, MACRO_SENTENCES, FX_COMMODITY_SENTENCES)
)

Filler = Callable[[random.Random, list[str]], str]


def money(rng: random.Random) -> str:
    """A random amount as news writes it: ``EUR 12.5 million``, ``$3.2bn``."""
    cur, unit = rng.choice(CURRENCIES), rng.choice(MONEY_UNITS)
    value = round(rng.uniform(1, 950), rng.choice((0, 0, 1)))
    value_text = str(int(value)) if value == int(value) else str(value)
    if cur in "$€£":
        short = {"million": "m", "billion": "bn", "mn": "m", "bn": "bn"}[unit]
        if rng.random() < 0.5:
            return f"{cur}{value_text}{short}"
        return f"{cur}{value_text} {unit}"
    return f"{cur} {value_text} {unit}"


def price(rng: random.Random, low: float = 5, high: float = 400) -> tuple[str, float]:
    """A currency symbol and a share price: (``"$"``, 142.0)."""
    return rng.choice(("$", "€", "£", "EUR ", "SEK ")), float(rng.randint(int(low), int(high)))


def fmt_price(cur: str, value: float) -> str:
    return f"{cur}{int(value)}"


def target_move(rng: random.Random, up: bool) -> str:
    """``"$150 from $120"``: a new price target above (``up``) or below the old one."""
    cur, old = price(rng, 10, 400)
    step = max(1.0, round(old * rng.uniform(0.05, 0.3)))
    new = old + step if up else old - step
    return f"{fmt_price(cur, new)} from {fmt_price(cur, old)}"


def generic_or(rng: random.Random, names: list[str]) -> str:
    """A company name, or about a third of the time a generic ``the company``."""
    return rng.choice(GENERIC) if rng.random() < 0.3 else rng.choice(names)


def possessive(who: str) -> str:
    return f"{who}'" if who.endswith("s") and not who.startswith("the ") else f"{who}'s"


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def percent(rng: random.Random, low: float, high: float) -> str:
    value = round(rng.uniform(low, high), 1)
    whole = value >= 1 and (rng.random() < 0.4 or value == int(value))
    return str(int(value)) if whole else str(value)


def pick(pool: tuple[str, ...]) -> Filler:
    return lambda rng, names: rng.choice(pool)


def pick_cap(pool: tuple[str, ...]) -> Filler:
    return lambda rng, names: cap(rng.choice(pool))


def pluralize(product: str) -> str:
    if product.endswith(("s", "sh", "ch")):
        return product + "es"
    return product + "s"


FILLERS: dict[str, Filler] = {
    "c": lambda rng, names: rng.choice(names),
    "C": lambda rng, names: cap(generic_or(rng, names)),
    "co": generic_or,
    "co_poss": lambda rng, names: possessive(generic_or(rng, names)),
    "co_poss_cap": lambda rng, names: cap(possessive(generic_or(rng, names))),
    "Mkt": pick(MARKETS),
    "EcoAdj": pick(ECONOMY_ADJ),
    "metric_pl": pick(METRICS_PL),
    "idx": pick(INDICES),
    "Idx": pick_cap(INDICES),
    "cb": pick(CENTRAL_BANKS),
    "Cb": pick_cap(CENTRAL_BANKS),
    "cb_poss": lambda rng, names: rng.choice(CENTRAL_BANKS) + "'s",
    "eco": pick(ECONOMIES),
    "Eco_cap": pick_cap(ECONOMIES),
    "Fx": pick_cap(FX),
    "Comm": pick_cap(COMMODITIES),
    "sector": pick(SECTORS),
    "sector2": pick(SECTORS),
    "title": pick(TITLES),
    "broker": pick(BROKERS),
    "Broker": pick(BROKERS),
    "agency": pick(AGENCIES),
    "Agency": pick(AGENCIES),
    "rating": pick(RATINGS),
    "reco": pick(RECOS),
    "reco_up": pick(RECOS_UP),
    "reco_down": pick(RECOS_DOWN),
    "product": pick(PRODUCTS),
    "product_pl": lambda rng, names: pluralize(rng.choice(PRODUCTS)),
    "unit_of": pick(UNITS_OF),
    "place": pick(PLACES),
    "headwind": pick(HEADWINDS),
    "tailwind": pick(TAILWINDS),
    "customer": pick(CUSTOMERS),
    "Customer": pick_cap(CUSTOMERS),
    "reg": pick(REGULATORS),
    "Reg": pick_cap(REGULATORS),
    "date": pick(DATES),
    "period": pick(PERIODS),
    "quarter": pick(QUARTERS),
    "metric": pick(METRICS),
    "metric_cap": pick_cap(METRICS),
    "month": pick(MONTHS),
    "ordinal": pick(ORDINALS),
    "wd": pick(WEEKDAYS),
    "yr": pick(YEARS),
    "yr_past": lambda rng, names: str(rng.randint(2008, 2023)),
    "amt": lambda rng, names: money(rng),
    "pct": lambda rng, names: percent(rng, 2, 45),
    "pct_s": lambda rng, names: percent(rng, 0.1, 4.5),
    "bp": lambda rng, names: rng.choice(("25", "50", "75", "10", "15")),
    "rate": lambda rng, names: f"{rng.randint(0, 6)}.{rng.choice(('0', '25', '5', '75'))}",
    "pmi": lambda rng, names: f"{rng.uniform(43, 58):.1f}",
    "pmi_low": lambda rng, names: f"{rng.uniform(43, 49.8):.1f}",
    "jobs": lambda rng, names: f"{rng.randint(1, 250) * 100:,}",
    "n_small": lambda rng, names: str(rng.choice((2, 3, 4, 5, 6, 7, 9, 10, 12))),
    "n_oil": lambda rng, names: str(rng.randint(55, 110)),
    "qn": lambda rng, names: str(rng.randint(1, 4)),
    "shares": lambda rng, names: f"{rng.randint(10_000_000, 900_000_000):,}",
    "eps": lambda rng, names: f"{rng.choice(('EUR ', '$', '€', 'SEK '))}{rng.uniform(0.05, 4):.2f}",
    "tp": lambda rng, names: fmt_price(*price(rng)),
    "tp_up": lambda rng, names: target_move(rng, up=True),
    "tp_down": lambda rng, names: target_move(rng, up=False),
}

_FORMATTER = string.Formatter()


def slots(template: str) -> list[str]:
    """The slot names in ``template``, in order of appearance."""
    return [field for _, field, _, _ in _FORMATTER.parse(template) if field]


def subject_values(who: str) -> dict[str, str]:
    """The company slots all naming ``who``, for a paragraph about one company."""
    return {
        "c": who,
        "C": cap(who),
        "co": who,
        "co_poss": possessive(who),
        "co_poss_cap": cap(possessive(who)),
    }


def fill(template: str, rng: random.Random, names: list[str], subject: str | None = None) -> str:
    """``template`` with each slot filled at random; ``c`` and ``c2`` name different companies.

    With ``subject`` every company slot but ``c2`` names that company.
    """
    values: dict[str, str] = subject_values(subject) if subject else {}
    wanted = slots(template)
    for slot in [s for s in wanted if s != "c2"] + [s for s in wanted if s == "c2"]:
        if slot in values:
            continue
        if slot == "c2":
            values[slot] = other_company(rng, names, list(values.values()))
        else:
            values[slot] = FILLERS[slot](rng, names)
    return cap(template.format(**values))


def other_company(rng: random.Random, names: list[str], taken: list[str]) -> str:
    """A company name not already in the ``taken`` slot values, where the list allows it."""
    choices = [n for n in names if not any(n in value for value in taken)] or names
    return rng.choice(choices)


def sentence(rng: random.Random, names: list[str]) -> str:
    return fill(rng.choice(rng.choice(SENTENCE_GROUPS)), rng, names)


def news_headline(rng: random.Random, names: list[str]) -> str:
    text = fill(rng.choice(HEADLINES), rng, names)
    return title_case(text) if rng.random() < 0.25 else text


def title_case(text: str) -> str:
    """Wire-style title case that keeps short words and tickers as written."""
    small = {"a", "an", "the", "of", "to", "in", "on", "at", "for", "as", "by", "and", "after"}
    words = text.split(" ")
    return " ".join(
        w if (i and w in small) or not w[:1].islower() else cap(w) for i, w in enumerate(words)
    )


def two_sentences(rng: random.Random, names: list[str]) -> str:
    """Two sentences about one company, as a short news paragraph."""
    who = rng.choice(names)
    first = fill(rng.choice(rng.choice(COMPANY_GROUPS)), rng, names, subject=who)
    follow = SHARE_SENTENCES + QUOTE_SENTENCES + HEDGE_SENTENCES + GUIDANCE_SENTENCES
    again = who if rng.random() < 0.5 else rng.choice(GENERIC)
    second = fill(rng.choice(follow), rng, names, subject=again)
    return f"{first} {second}"


def shape_count() -> int:
    """How many distinct templates ``wide_text`` draws from."""
    return sum(len(group) for group in SENTENCE_GROUPS) + len(HEADLINES)


def wide_text(rng: random.Random, names: list[str]) -> str:
    """One English news sentence, short paragraph or headline, filled at random."""
    way = rng.random()
    if way < 0.55:
        return sentence(rng, names)
    if way < 0.85:
        return news_headline(rng, names)
    return two_sentences(rng, names)
