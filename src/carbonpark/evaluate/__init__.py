"""carbonpark.evaluate: the park evaluation index system of the guide (§5 and appendix).

69 third-level indicators in 20 second-level and 5 first-level groups; formula (10) normalises each value to
0-100, formula (9) weights them into first- and second-level sub-scores and a total; weights from the appendix,
equal within each group, or from AHP judgement matrices; indicators computed from platform figures; diagnosis
(weakest indicators, gain available, comparison across years and parks) and an HTML report.

References
----------
工业互联网产业联盟, 《工业互联网碳达峰碳中和园区指南(2021)》, §5 and appendix.
"""

from carbonpark.evaluate.ahp import (
    AhpResult,
    InconsistentMatrixError,
    ahp,
    geometric_mean_matrix,
    parse_judgement,
    random_index,
    read_matrix_csv,
    require_consistent,
    validate_matrix,
)
from carbonpark.evaluate.catalogue import (
    Catalogue,
    Indicator,
    Level1,
    Level2,
    ThresholdOverride,
    load_catalogue,
    parse_thresholds,
)
from carbonpark.evaluate.demo import demo_entered_values
from carbonpark.evaluate.diagnosis import Comparison, Weakness, compare, weakest
from carbonpark.evaluate.platform import FIGURES, PlatformIndicators, indicators_from_platform, merge_inputs
from carbonpark.evaluate.report import radar_svg, render_html
from carbonpark.evaluate.scoring import (
    Evaluation,
    IndicatorInput,
    IndicatorScore,
    cumulative_score,
    evaluate,
    normalise,
    parse_value,
    read_values_csv,
)
from carbonpark.evaluate.weights import WeightSet, appendix_weights, equal_weights, weights_from_ahp

__all__ = [
    "FIGURES",
    "AhpResult",
    "Catalogue",
    "Comparison",
    "Evaluation",
    "InconsistentMatrixError",
    "Indicator",
    "IndicatorInput",
    "IndicatorScore",
    "Level1",
    "Level2",
    "PlatformIndicators",
    "ThresholdOverride",
    "Weakness",
    "WeightSet",
    "ahp",
    "appendix_weights",
    "compare",
    "cumulative_score",
    "demo_entered_values",
    "equal_weights",
    "evaluate",
    "geometric_mean_matrix",
    "indicators_from_platform",
    "load_catalogue",
    "merge_inputs",
    "normalise",
    "parse_judgement",
    "parse_thresholds",
    "parse_value",
    "radar_svg",
    "random_index",
    "read_matrix_csv",
    "read_values_csv",
    "render_html",
    "require_consistent",
    "validate_matrix",
    "weakest",
    "weights_from_ahp",
]
