"""The console's words, Japanese first, English beside them: the one message catalogue.

A key missing in a language is a defect the unit tests find (``test_catalogue_is_complete``); at
run time it shows the Japanese text rather than failing a page.
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = ("ja", "en")
DEFAULT = "ja"

MESSAGES: dict[str, dict[str, str]] = {
    "app.title": {"ja": "cardops 管理コンソール", "en": "cardops console"},
    "nav.skip": {"ja": "本文へ移動", "en": "Skip to content"},
    "nav.dashboard": {"ja": "ダッシュボード", "en": "Dashboard"},
    "nav.uncaptured": {"ja": "未認証の売上", "en": "Uncaptured sales"},
    "nav.balance": {"ja": "残高", "en": "Balance"},
    "nav.statement": {"ja": "取引明細", "en": "Statement"},
    "nav.payout": {"ja": "振込申請", "en": "Payout request"},
    "nav.signout": {"ja": "ログアウト", "en": "Sign out"},
    "nav.language": {"ja": "English", "en": "日本語"},
    "nav.signed_in_as": {"ja": "ログイン中", "en": "Signed in as"},
    "login.title": {"ja": "ログイン", "en": "Sign in"},
    "login.username": {"ja": "メールアドレス", "en": "E-mail address"},
    "login.password": {"ja": "パスワード", "en": "Password"},
    "login.submit": {"ja": "ログイン", "en": "Sign in"},
    "login.failed": {
        "ja": "メールアドレスまたはパスワードが違います。",
        "en": "Wrong e-mail address or password.",
    },
    "login.expired": {
        "ja": "ログインの手続きが時間切れになりました。もう一度ログインしてください。",
        "en": "The sign-in timed out. Please sign in again.",
    },
    "login.new_password_title": {"ja": "新しいパスワードの設定", "en": "Set a new password"},
    "login.new_password_intro": {
        "ja": "初回ログインです。仮パスワードに代わる新しいパスワードを設定してください"
        "（12文字以上、大文字・小文字・数字・記号を含む）。",
        "en": "This is your first sign-in: replace the temporary password "
        "(at least 12 characters with upper- and lower-case letters, digits and symbols).",
    },
    "login.new_password": {"ja": "新しいパスワード", "en": "New password"},
    "login.new_password_again": {"ja": "新しいパスワード（確認）", "en": "New password (again)"},
    "login.set_password": {"ja": "パスワードを設定する", "en": "Set the password"},
    "login.password_refused": {
        "ja": "このパスワードは使えません。2つの入力が一致し、条件を満たすものにしてください。",
        "en": "This password cannot be used: both entries must match and meet the rules.",
    },
    "login.mfa_title": {"ja": "確認コードの入力", "en": "Enter your code"},
    "login.mfa_intro": {
        "ja": "認証アプリに表示されている6桁のコードを入力してください。",
        "en": "Enter the six-digit code your authenticator app shows.",
    },
    "login.code": {"ja": "確認コード（6桁）", "en": "Code (six digits)"},
    "login.verify": {"ja": "確認する", "en": "Verify"},
    "login.wrong_code": {
        "ja": "確認コードが違います。認証アプリの最新のコードを入力してください。",
        "en": "Wrong code. Enter the latest code from your authenticator app.",
    },
    "login.mfa_setup_title": {"ja": "二要素認証の設定", "en": "Set up two-factor authentication"},
    "login.mfa_setup_intro": {
        "ja": "このコンソールでは認証アプリ（TOTP）が必須です。"
        "下のキーを認証アプリに登録し、表示された6桁のコードを入力してください。",
        "en": "This console requires an authenticator app (TOTP). Add the key below to your app, "
        "then enter the six-digit code it shows.",
    },
    "login.mfa_secret": {"ja": "セットアップキー", "en": "Setup key"},
    "login.mfa_uri": {"ja": "キーURI（otpauth）", "en": "Key URI (otpauth)"},
    "login.not_configured": {
        "ja": "ログインは設定されていません（ユーザープール未設定）。",
        "en": "Sign-in is not configured (no user pool).",
    },
    "sandbox.title": {"ja": "サンドボックスのユーザー切り替え", "en": "Sandbox user switcher"},
    "sandbox.intro": {
        "ja": "ローカルのサンドボックス専用です。役割ごとの試用ユーザーでログインします。",
        "en": "Local sandbox only: sign in as a seeded user of each role.",
    },
    "sandbox.as": {"ja": "このユーザーでログイン", "en": "Sign in as this user"},
    "role.store_admin": {"ja": "店舗管理者", "en": "Store admin"},
    "role.support": {"ja": "サポートデスク", "en": "Support desk"},
    "role.finance": {"ja": "経理", "en": "Finance"},
    "role.tenant_admin": {"ja": "テナント管理者", "en": "Tenant admin"},
    "role.employee": {"ja": "従業員", "en": "Employee"},
    "home.title": {"ja": "ホーム", "en": "Home"},
    "home.stores": {"ja": "店舗", "en": "Stores"},
    "home.open_store": {"ja": "店舗を開く", "en": "Open a store"},
    "home.store_id": {"ja": "店舗ID", "en": "Store ID"},
    "home.open": {"ja": "開く", "en": "Open"},
    "home.nothing": {
        "ja": "このユーザーが使える画面はまだありません。",
        "en": "No page is available to this user yet.",
    },
    "dashboard.title": {"ja": "ダッシュボード", "en": "Dashboard"},
    "dashboard.uncaptured_count": {"ja": "未認証の売上", "en": "Uncaptured sales"},
    "dashboard.count_unit": {"ja": "件", "en": "payments"},
    "dashboard.nearest": {"ja": "期日が近い売上", "en": "Nearest deadlines"},
    "dashboard.none": {"ja": "未認証の売上はありません。", "en": "No uncaptured sales."},
    "dashboard.see_all": {"ja": "すべて表示", "en": "See all"},
    "uncaptured.title": {"ja": "未認証の売上があります", "en": "Uncaptured sales"},
    "col.payment": {"ja": "決済", "en": "Payment"},
    "col.amount": {"ja": "金額", "en": "Amount"},
    "col.deadline": {"ja": "認証期日", "en": "Capture deadline"},
    "col.bound": {"ja": "期日の根拠", "en": "Bound"},
    "col.reservation": {"ja": "予約", "en": "Reservation"},
    "col.visit_date": {"ja": "来店日", "en": "Visit date"},
    "col.status": {"ja": "状態", "en": "Status"},
    "col.when": {"ja": "日時", "en": "When"},
    "col.actor": {"ja": "実行者", "en": "Actor"},
    "col.from": {"ja": "変更前", "en": "From"},
    "col.to": {"ja": "変更後", "en": "To"},
    "col.kind": {"ja": "種別", "en": "Kind"},
    "col.reason": {"ja": "理由", "en": "Reason"},
    "col.memo": {"ja": "メモ", "en": "Memo"},
    "col.channel": {"ja": "チャネル", "en": "Channel"},
    "col.balance": {"ja": "残高", "en": "Balance"},
    "col.confirmed": {"ja": "確定済み", "en": "Confirmed"},
    "col.pending": {"ja": "未確定", "en": "Pending"},
    "col.shortfall": {"ja": "不足額", "en": "Shortfall"},
    "col.actions": {"ja": "操作", "en": "Actions"},
    "bound.business": {"ja": "来店日+7日", "en": "visit + 7 days"},
    "bound.authorization": {"ja": "与信の有効期限", "en": "authorization validity"},
    "badge.overdue": {"ja": "期日超過", "en": "Overdue"},
    "badge.today": {"ja": "24時間以内", "en": "Within 24 h"},
    "badge.soon": {"ja": "72時間以内", "en": "Within 72 h"},
    "badge.ok": {"ja": "余裕あり", "en": "On time"},
    "payment.title": {"ja": "決済の詳細", "en": "Payment"},
    "payment.captured": {"ja": "売上確定額", "en": "Captured"},
    "payment.refunded": {"ja": "返金額", "en": "Refunded"},
    "payment.timeline": {"ja": "履歴", "en": "Timeline"},
    "payment.capture": {"ja": "売上を確定する", "en": "Capture"},
    "payment.refunds": {"ja": "返金", "en": "Refunds"},
    "payment.no_refunds": {"ja": "返金はありません。", "en": "No refunds."},
    "payment.refundable": {"ja": "返金可能額", "en": "Refundable"},
    "capture.title": {"ja": "売上確定（キャプチャ）", "en": "Capture"},
    "capture.amount": {"ja": "確定する金額（空欄で全額）", "en": "Amount to capture (empty: all)"},
    "capture.review": {"ja": "内容を確認する", "en": "Review"},
    "capture.confirm_title": {"ja": "売上確定の確認", "en": "Confirm the capture"},
    "capture.confirm_text": {
        "ja": "次の金額で売上を確定します。残りの与信は解放されます。",
        "en": "This captures the amount below; the rest of the authorization is released.",
    },
    "capture.confirm": {"ja": "確定する", "en": "Capture now"},
    "capture.done": {"ja": "売上を確定しました。", "en": "Captured."},
    "refund.title": {"ja": "返金する", "en": "Refund"},
    "refund.amount": {"ja": "返金額", "en": "Refund amount"},
    "refund.reason": {"ja": "返金理由", "en": "Reason"},
    "refund.note": {"ja": "メモ（理由が「その他」の場合は必須）", "en": "Note (required for “other”)"},
    "refund.review": {"ja": "内容を確認する", "en": "Review"},
    "refund.confirm_title": {"ja": "返金の確認", "en": "Confirm the refund"},
    "refund.confirm": {"ja": "返金する", "en": "Refund now"},
    "refund.done": {"ja": "返金を受け付けました。", "en": "Refund requested."},
    "reason.customer_request": {"ja": "お客様のご要望", "en": "Customer request"},
    "reason.duplicate": {"ja": "二重決済", "en": "Duplicate"},
    "reason.fraudulent": {"ja": "不正利用", "en": "Fraudulent"},
    "reason.store_cancellation": {"ja": "店舗都合のキャンセル", "en": "Store cancellation"},
    "reason.overcharge": {"ja": "過請求", "en": "Overcharge"},
    "reason.service_issue": {"ja": "サービスの不備", "en": "Service issue"},
    "reason.other": {"ja": "その他", "en": "Other"},
    "balance.title": {"ja": "残高", "en": "Balance"},
    "balance.none": {"ja": "まだ取引はありません。", "en": "No ledger yet."},
    "balance.as_of": {"ja": "基準日", "en": "As of"},
    "statement.title": {"ja": "取引明細", "en": "Statement"},
    "statement.page": {"ja": "ページ", "en": "Page"},
    "statement.newer": {"ja": "新しい明細", "en": "Newer"},
    "statement.older": {"ja": "古い明細", "en": "Older"},
    "statement.none": {"ja": "明細はありません。", "en": "No entries."},
    "statement.show": {"ja": "表示", "en": "Show"},
    "channel.standard": {"ja": "スタンダード（PAY.JP）", "en": "Standard (PAY.JP)"},
    "channel.extended": {"ja": "拡張（SBPS）", "en": "Extended (SBPS)"},
    "channel.stripe": {"ja": "Stripe", "en": "Stripe"},
    "payout.title": {"ja": "振込申請", "en": "Payout request"},
    "payout.review": {"ja": "振込内容を確認する", "en": "Review the payout"},
    "payout.gross": {"ja": "申請額", "en": "Amount"},
    "payout.fee": {"ja": "振込手数料", "en": "Transfer fee"},
    "payout.net": {"ja": "振込額", "en": "Paid to your bank"},
    "payout.date": {"ja": "振込予定日", "en": "Payout date"},
    "payout.confirm": {"ja": "振込を申請する", "en": "Request the payout"},
    "payout.done": {"ja": "振込申請を受け付けました。", "en": "Payout requested."},
    "payout.refused": {"ja": "現在は振込申請できません", "en": "A payout cannot be requested now"},
    "cards.errors_title": {"ja": "カード明細のエラーデータ", "en": "Card-line error data"},
    "cards.rematch": {"ja": "再マッチングする", "en": "Re-match"},
    "cards.company": {"ja": "カード会社", "en": "Card company"},
    "cards.linkage": {"ja": "カード連携用コード", "en": "Linkage code"},
    "cards.field": {"ja": "項目", "en": "Field"},
    "cards.card_value": {"ja": "カード会社の登録値", "en": "At the card company"},
    "cards.master_value": {"ja": "従業員マスタの値", "en": "In the employee master"},
    "cards.proposed_fix": {"ja": "修正案", "en": "Proposed fix"},
    "cards.apply_fix": {"ja": "修正案を適用する", "en": "Apply the fix"},
    "cards.assign_to": {"ja": "割り当てる社員コード", "en": "Assign to employee code"},
    "cards.assign": {"ja": "手動で割り当てる", "en": "Assign"},
    "cards.no_errors": {"ja": "エラーデータはありません。", "en": "No error data."},
    "cards.done_fix": {
        "ja": "修正案を適用し、再マッチングしました。",
        "en": "Fix applied and lines re-matched.",
    },
    "cards.done_assign": {"ja": "明細を割り当てました。", "en": "Line assigned."},
    "cards.done_rematch": {"ja": "再マッチングしました。", "en": "Re-matched."},
    "cards.done_exclude": {"ja": "対象外にしました。", "en": "Marked excluded."},
    "cards.mine_title": {"ja": "わたしのカード明細", "en": "My card lines"},
    "cards.merchant": {"ja": "利用店名", "en": "Merchant"},
    "cards.settlement": {"ja": "決済区分", "en": "Settlement"},
    "cards.settlement_corporate": {"ja": "法人", "en": "Corporate"},
    "cards.settlement_personal": {"ja": "個人", "en": "Personal"},
    "cards.excluded": {"ja": "対象外", "en": "Excluded"},
    "cards.used": {"ja": "使用済み", "en": "Used"},
    "cards.selectable": {"ja": "選択できます", "en": "Selectable"},
    "cards.exclude": {"ja": "対象外にする", "en": "Exclude"},
    "cards.no_lines": {"ja": "明細はまだありません。", "en": "No card lines yet."},
    "cards.diagnosis_title": {
        "ja": "カードで支払ったのに明細を選択できない",
        "en": "I paid by card but cannot select the line",
    },
    "cards.usage_date": {"ja": "利用日", "en": "Usage date"},
    "cards.amount_optional": {"ja": "金額（任意）", "en": "Amount (optional)"},
    "cards.diagnose": {"ja": "原因を調べる", "en": "Find the cause"},
    "cards.next_sync": {"ja": "次回の連携予定日", "en": "Next sync"},
    "home.card_errors": {"ja": "カード明細のエラーデータ", "en": "Card-line error data"},
    "home.my_lines": {"ja": "わたしのカード明細", "en": "My card lines"},
    "repay.queue_title": {"ja": "再決済申請の確認待ち", "en": "Re-payment queue"},
    "repay.none": {"ja": "再決済申請はありません。", "en": "No re-payment requests."},
    "repay.title": {"ja": "再決済申請", "en": "Re-payment request"},
    "repay.original": {"ja": "元の決済", "en": "Original payment"},
    "repay.document": {"ja": "同意の証跡", "en": "Consent evidence"},
    "repay.decision": {"ja": "判断", "en": "Decision"},
    "repay.preview": {"ja": "証跡のプレビュー", "en": "Evidence preview"},
    "repay.findings": {"ja": "照合結果（予約との項目比較）", "en": "Checks against the reservation"},
    "repay.no_findings": {
        "ja": "すべての項目が予約と一致しました。",
        "en": "Every field matches the reservation.",
    },
    "repay.decide": {"ja": "承認・却下", "en": "Approve or reject"},
    "repay.approve": {"ja": "承認する（再決済を実行）", "en": "Approve (charge again)"},
    "repay.reject": {"ja": "却下する", "en": "Reject"},
    "repay.reason": {"ja": "理由（却下の場合は必須）", "en": "Reason (required to reject)"},
    "repay.submit": {"ja": "判断を送信する", "en": "Send the decision"},
    "repay.audit": {"ja": "監査証跡", "en": "Audit trail"},
    "repay.new_payment": {"ja": "新しい決済", "en": "New payment"},
    "repay.confirm_title": {"ja": "判断の確認", "en": "Confirm the decision"},
    "repay.confirm_approve_text": {
        "ja": "承認すると、保存済みのカードに次の金額を一度だけ請求します。",
        "en": "Approving charges the saved card once, this amount.",
    },
    "repay.confirm_reject_text": {
        "ja": "却下すると、この申請は再決済されずに終了します。",
        "en": "Rejecting ends this request without charging anything.",
    },
    "repay.confirm_approve": {"ja": "承認を確定する", "en": "Approve now"},
    "repay.confirm_reject": {"ja": "却下を確定する", "en": "Reject now"},
    "repay.done_approve": {"ja": "承認しました。", "en": "Approved."},
    "repay.done_reject": {"ja": "却下しました。", "en": "Rejected."},
    "home.repayments": {"ja": "再決済申請の確認待ち", "en": "Re-payment queue"},
    "adjust.title": {"ja": "残高の調整（経理）", "en": "Adjust the balance (finance)"},
    "adjust.currency": {"ja": "通貨", "en": "Currency"},
    "adjust.amount": {"ja": "調整額（減額はマイナス）", "en": "Amount (negative to take)"},
    "adjust.reason": {"ja": "理由コード", "en": "Reason code"},
    "adjust.confirm_title": {"ja": "調整の確認", "en": "Confirm the adjustment"},
    "adjust.confirm": {"ja": "調整する", "en": "Adjust now"},
    "adjust.done": {"ja": "調整を記録しました。", "en": "Adjustment recorded."},
    "adjust.reason_multi_currency_overcharge": {
        "ja": "複数通貨での取引に起因した過剰請求",
        "en": "Multi-currency overcharge",
    },
    "adjust.reason_tax_rate_change": {"ja": "該当予約の税率変更", "en": "Tax-rate change"},
    "adjust.reason_cancellation_policy_mismatch": {
        "ja": "異なるキャンセルポリシーでのキャンセル",
        "en": "Cancellation under another policy",
    },
    "adjust.reason_payment_method_migration": {
        "ja": "新しい支払方法へ移行できなかった決済",
        "en": "Payment that could not move to a new method",
    },
    "adjust.reason_other": {"ja": "その他", "en": "Other"},
    "finance.negative_title": {"ja": "マイナス残高の店舗", "en": "Negative balances"},
    "finance.negative_intro": {
        "ja": "残高（または確定済みの残高）がマイナスの店舗です。"
        "不足額が解消されるまで精算と振込はできません。",
        "en": "Stores whose balance (or its confirmed part) is below zero: settlement and payouts are "
        "refused until the shortfall is offset.",
    },
    "finance.negative_none": {
        "ja": "マイナス残高の店舗はありません。",
        "en": "No store has a negative balance.",
    },
    "finance.open_balance": {"ja": "残高・調整", "en": "Balance and adjust"},
    "finance.rejections_title": {"ja": "返金の拒否（カード会社）", "en": "Rejected refunds"},
    "finance.rejections_intro": {
        "ja": "送信後にカード会社が拒否した返金です。返金は取り消され、"
        "金額は店舗残高に戻り、返金可能額も元に戻りました。"
        "お客様への返金はまだ済んでいません。",
        "en": "Refunds the card company rejected after submission. Each was reversed: the amount went back "
        "to the store's balance and the refundable amount was restored. The customer is not repaid yet.",
    },
    "finance.rejections_none": {"ja": "拒否された返金はありません。", "en": "No rejected refunds."},
    "finance.refund": {"ja": "返金ID", "en": "Refund"},
    "finance.reversed": {"ja": "取り消した内容", "en": "Reversed"},
    "finance.reversed_to": {"ja": "を店舗残高に戻しました：", "en": "back to the store's ledger:"},
    "finance.card_expired": {"ja": "有効期限切れのカード", "en": "expired card"},
    "finance.queue_title": {
        "ja": "オペレーター対応待ち（自動返金の失敗）",
        "en": "Operator queue (failed auto-refunds)",
    },
    "finance.queue_intro": {
        "ja": "認証期日に与信の取消（自動返金）ができなかった決済です。"
        "再実行するか、対応内容を記録して完了にしてください。",
        "en": "Payments whose authorization could not be released at the capture deadline. Retry the "
        "automatic refund, or record what was done and resolve.",
    },
    "finance.queue_none": {"ja": "対応待ちはありません。", "en": "Nothing is waiting."},
    "finance.retry": {"ja": "自動返金を再実行する", "en": "Retry the automatic refund"},
    "finance.resolve_note": {"ja": "対応内容（必須）", "en": "What was done (required)"},
    "finance.resolve": {"ja": "対応済みにする", "en": "Resolve"},
    "finance.done_retry": {"ja": "自動返金を再実行しました", "en": "Automatic refund retried"},
    "finance.done_resolve": {"ja": "対応済みにしました。", "en": "Resolved."},
    "home.finance": {"ja": "経理", "en": "Finance"},
    "cards.tenant_lines_title": {"ja": "カード明細（後から紐付け）", "en": "Card lines (link later)"},
    "cards.link_intro": {
        "ja": "法人決済のカード明細は、明細なしで提出された経費精算に後から紐付けできます。"
        "個人決済の明細は紐付けできません（従業員が対象外にします）。",
        "en": "A corporate-settled line can be linked to an expense report submitted without it. "
        "Personal-settled lines cannot be linked later (the employee marks them excluded).",
    },
    "cards.employee": {"ja": "社員", "en": "Employee"},
    "cards.no_employees": {"ja": "社員マスタが登録されていません。", "en": "No employee master yet."},
    "cards.report_id": {"ja": "経費精算の申請ID", "en": "Expense report ID"},
    "cards.link": {"ja": "申請に紐付ける", "en": "Link to the report"},
    "cards.personal_no_link": {"ja": "個人決済：紐付け不可", "en": "Personal: cannot be linked"},
    "cards.select": {"ja": "申請で使う", "en": "Use in the report"},
    "cards.done_link": {"ja": "明細を申請に紐付けました。", "en": "Line linked to the report."},
    "cards.done_select": {"ja": "明細を申請で使いました。", "en": "Line selected for the report."},
    "home.tenant_lines": {"ja": "カード明細（後から紐付け）", "en": "Card lines (link later)"},
    "common.back": {"ja": "戻る", "en": "Back"},
    "common.cancel": {"ja": "やめる", "en": "Cancel"},
    "error.title": {"ja": "エラー", "en": "Error"},
    "error.400": {"ja": "入力内容を確認してください。", "en": "Please check what you entered."},
    "error.401": {"ja": "ログインしてください。", "en": "Please sign in."},
    "error.403": {"ja": "この操作は許可されていません。", "en": "You are not allowed to do this."},
    "error.404": {"ja": "見つかりません。", "en": "Not found."},
    "error.409": {"ja": "現在の状態ではできません。", "en": "Not possible in the current state."},
    "error.422": {"ja": "この内容では実行できません。", "en": "This cannot be done as entered."},
    "error.5xx": {
        "ja": "一時的に処理できません。しばらくしてからやり直してください。",
        "en": "Temporarily unavailable; please try again shortly.",
    },
    "error.detail": {"ja": "詳細", "en": "Details"},
}


def language(query: str | None, cookie: str | None) -> str:
    """``?lang=`` first, then the cookie, else Japanese."""
    for choice in (query, cookie):
        if choice in LANGUAGES:
            return choice
    return DEFAULT


def translate(key: str, lang: str, catalogue: Mapping[str, Mapping[str, str]] = MESSAGES) -> str:
    entry = catalogue.get(key)
    if entry is None:
        return key
    return entry.get(lang) or entry[DEFAULT]


def error_key(status: int) -> str:
    return (
        "error.5xx" if status >= 500 else f"error.{status}" if f"error.{status}" in MESSAGES else "error.422"
    )
