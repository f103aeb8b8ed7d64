//! Penalty records (信用记录: administrative penalties and the joint-punishment list), from
//! which an object's tier follows. Stored in the `credit_records` table.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::columns::{Cells, Column, columns};
use super::row::RowReader;
use crate::core::model::ObjectId;

columns! {
    pub enum PenaltyColumn (required: ObjectId | Date | DocumentNo) {
        ObjectId => &["object_id", "id", "统一社会信用代码", "信用代码", "对象编号"],
        Kind => &["kind", "type", "类型", "记录类型"],
        Date => &["date", "decision_date", "处罚日期", "决定日期", "列入日期"],
        Until => &["until", "removed", "移出日期", "有效期至"],
        Authority => &["authority", "处罚机关", "决定机关", "列入机关"],
        DocumentNo => &["document_no", "document", "文书号", "决定书文号", "处罚决定书文号", "文号"],
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PenaltyKind {
    /// An administrative penalty decision (行政处罚).
    Penalty,
    /// Listed for joint punishment of serious dishonesty (失信联合惩戒), from `date` until `until`.
    JointPunishment,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PenaltyRecord {
    pub object_id: ObjectId,
    pub kind: PenaltyKind,
    pub date: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<NaiveDate>,
    pub authority: String,
    pub document_no: String,
}

impl PenaltyRecord {
    pub(super) fn parse<R: Cells + ?Sized>(row: &mut RowReader<PenaltyColumn, R>) -> Option<Self> {
        use PenaltyColumn as C;
        let object_id = row.object_id(C::ObjectId);
        let kind = match row.get(C::Kind) {
            "" | "penalty" | "行政处罚" | "处罚" => Some(PenaltyKind::Penalty),
            "joint_punishment" | "失信联合惩戒" | "严重失信" | "联合惩戒" => {
                Some(PenaltyKind::JointPunishment)
            }
            _ => row.fail(C::Kind, "unknown kind (penalty, joint_punishment)"),
        };
        let date = row.date(C::Date);
        let until = row.optional_date(C::Until);
        if let (Some(d), Some(Some(u))) = (date, until) {
            if u <= d {
                row.fail::<()>(C::Until, format!("is not after the date {d}"));
            }
        }
        let document_no = row.nonempty(C::DocumentNo);
        Some(Self {
            object_id: object_id?,
            kind: kind?,
            date: date?,
            until: until?,
            authority: row.text(C::Authority),
            document_no: document_no?,
        })
    }

    pub(super) fn to_row(&self) -> Vec<String> {
        PenaltyColumn::ALL
            .iter()
            .map(|c| match c {
                PenaltyColumn::ObjectId => self.object_id.to_string(),
                PenaltyColumn::Kind => match self.kind {
                    PenaltyKind::Penalty => "penalty",
                    PenaltyKind::JointPunishment => "joint_punishment",
                }
                .into(),
                PenaltyColumn::Date => self.date.to_string(),
                PenaltyColumn::Until => self.until.map(|d| d.to_string()).unwrap_or_default(),
                PenaltyColumn::Authority => self.authority.clone(),
                PenaltyColumn::DocumentNo => self.document_no.clone(),
            })
            .collect()
    }
}
