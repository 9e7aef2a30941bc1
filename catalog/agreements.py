"""The service agreement a buyer accepts when starting a plan.

A listing revision carries the vendor's own agreement text, or none: then the platform's
standard agreement below applies, in the reader's language. The version starts at 1 and
changes only when the vendor's text changes (not on every edit of the listing), so a buyer's
acceptance of "version N" names one text. The version of a draft is settled when it is
saved: the published version if the text is the published one, else one past every version
the solution has had (catalog/services.py calls ``version_for``).
"""

from __future__ import annotations

from catalog.models import Solution, SolutionRevision

MAX_AGREEMENT_CHARS = 20_000

PLATFORM_AGREEMENT_ZH = """\
平台标准服务协议

本协议适用于买方（企业）通过本平台向服务商开通的解决方案服务。服务商在挂牌信息中未另行提供服务协议的，适用本标准协议。

一、服务内容。服务商按挂牌页面所示的交付方式、部署步骤、服务等级（SLA）和所选方案提供服务。挂牌页面的内容是本协议的组成部分。

二、价格与账单。费用按所选方案计算：订阅按期预付；按量计费（先用后付）按每期实际用量在期末出账；效果付费按双方确认的基线和经确认的结果出账。所有价格含增值税。账单由平台出具，买方可使用卡支付或对公转账，也可按规则使用上云券、算力券抵扣。

三、试用与取消。方案含免费试用的，试用期内取消不产生费用。买方可随时取消：立即取消或在当前计费期末取消；已出账的费用不因取消而退还，法律另有规定或双方另有约定的除外。

四、数据与保密。买方数据归买方所有。服务商仅为提供本服务使用买方数据，不得向第三方披露或用于其他目的，并采取合理的安全措施。服务终止后，服务商应按买方要求返还或删除买方数据。

五、服务支持。服务商按挂牌页面公布的支持时间和渠道提供支持，并按承诺的响应时间回复。

六、发票。服务商就买方已支付的账单开具发票（普通发票或增值税专用发票）。

七、争议。对效果付费的结果有异议的，买方可在核验期内提出异议，由平台依据双方提供的证据裁决。其他争议双方应友好协商；协商不成的，提交服务商所在地有管辖权的人民法院处理。

八、协议变更。服务商修改协议的，协议版本随之更新；已开通的合同适用买方开通时接受的版本，直至买方接受新版本。
"""

PLATFORM_AGREEMENT_EN = """\
Platform standard service agreement

This agreement covers a solution the buyer (an enterprise) starts with a vendor through this platform. It applies when the vendor's listing gives no service agreement of its own.

1. The service. The vendor provides the service as the listing shows it: the delivery form, the deployment steps, the service level (SLA) and the chosen plan. The listing is part of this agreement.

2. Prices and invoices. Charges follow the chosen plan: subscriptions are invoiced in advance for each period; pay-after-use is invoiced at the end of each period for what was used; pay-for-results is invoiced on the agreed baseline and confirmed results. All prices include VAT. The platform issues the invoices; the buyer pays by card or bank transfer and may use cloud or compute vouchers under their rules.

3. Trial and cancellation. When the plan has a free trial, canceling during the trial costs nothing. The buyer may cancel at any time, at once or at the end of the current period; invoices already issued are not refunded on cancellation unless the law or an agreement between the parties says otherwise.

4. Data and confidentiality. The buyer's data belongs to the buyer. The vendor uses it only to provide this service, does not disclose it or use it for anything else, and keeps it reasonably secure. When the service ends, the vendor returns or deletes the buyer's data as the buyer asks.

5. Support. The vendor provides support in the hours and through the channels the listing shows, and answers within the response time it commits to.

6. Fapiao. The vendor issues a fapiao (ordinary or special VAT) for each invoice the buyer has paid.

7. Disputes. A buyer who disagrees with a reported result of a pay-for-results plan disputes it within the verification window, and the platform decides on the evidence of both sides. Other disputes are settled amicably, failing which by the competent people's court where the vendor is located.

8. Changes. When the vendor changes the agreement, its version changes; a contract keeps the version the buyer accepted when starting it until the buyer accepts a new one.
"""


def is_platform_standard(revision: SolutionRevision) -> bool:
    return not revision.agreement.strip()


def agreement_text(revision: SolutionRevision, *, english: bool) -> str:
    """The text a buyer accepts: the vendor's own, else the platform's standard one."""
    if not is_platform_standard(revision):
        return revision.agreement
    return PLATFORM_AGREEMENT_EN if english else PLATFORM_AGREEMENT_ZH


def version_for(solution: Solution, revision: SolutionRevision, text: str) -> int:
    """The version ``revision`` gets when its agreement text becomes ``text``."""
    published = solution.published
    if published is None or published.id == revision.id:
        # Never accepted by anyone in another wording: edits before publication stay
        # version 1 (or the version it has).
        return revision.agreement_version if revision.agreement_version else 1
    if published.agreement == text:
        return published.agreement_version
    others = [r.agreement_version for r in solution.revisions if r.id != revision.id]
    return max(others, default=0) + 1
