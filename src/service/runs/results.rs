//! What officers enter after inspecting a drawn object: the result categories officers
//! already use (domain.md), follow-ups and a note.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::service::clock::stamped;

/// Result categories used in practice (domain.md), with stable codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    NoProblem,
    InfoNotPublished,
    FalseInformation,
    Unreachable,
    CorrectedOnOrder,
    Obstructed,
    NoRelevantActivity,
    ClosedOrLiquidating,
    Deregistered,
    LicenceRevoked,
    RegistrationCancelled,
    MovedOut,
    OtherViolation,
}

impl Finding {
    pub fn label(self) -> &'static str {
        match self {
            Finding::NoProblem => "未发现问题",
            Finding::InfoNotPublished => "未按规定公示应当公示的信息",
            Finding::FalseInformation => "公示信息隐瞒真实情况、弄虚作假",
            Finding::Unreachable => "通过登记的住所（经营场所）无法联系",
            Finding::CorrectedOnOrder => "发现问题已责令改正",
            Finding::Obstructed => "不配合检查情节严重",
            Finding::NoRelevantActivity => "未发现开展本次抽查涉及的经营活动",
            Finding::ClosedOrLiquidating => "已关闭停业或正在清算",
            Finding::Deregistered => "注销",
            Finding::LicenceRevoked => "被吊销",
            Finding::RegistrationCancelled => "被撤销",
            Finding::MovedOut => "迁出",
            Finding::OtherViolation => "违反其他规定",
        }
    }
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FollowUp {
    /// 责令改正
    OrderCorrection,
    /// 移送办案机构
    ReferForCase,
    /// 抄告相关部门
    NotifyDepartment,
}

/// An officer's entry for one drawn object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResultInput {
    pub object: String,
    pub finding: Finding,
    #[serde(default)]
    pub follow_up: Vec<FollowUp>,
    #[serde(default)]
    pub note: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ResultEntry {
    pub finding: Finding,
    pub label: String,
    pub follow_up: Vec<FollowUp>,
    pub note: String,
    pub by: String,
    #[serde(with = "stamped")]
    pub at: DateTime<Utc>,
}
