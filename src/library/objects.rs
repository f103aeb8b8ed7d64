//! The object library (检查对象名录库): its columns and records.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::columns::{Cells, Column, columns};
use super::fields::{parse_kind, tier_alias};
use super::row::RowReader;
use crate::core::model::{ENTITY_KINDS, ObjectId, ObjectStatus, check_uscc};

columns! {
    pub enum ObjectColumn (required: Id | Name) {
        Id => &["id", "uscc", "code", "统一社会信用代码", "信用代码", "对象编号", "编号"],
        Name => &["name", "名称", "企业名称", "对象名称"],
        Kind => &["kind", "type", "类型", "对象类型", "主体类型"],
        Region => &["region", "区域", "所属区域", "辖区", "属地"],
        Industry => &["industry", "行业", "所属行业"],
        Status => &["status", "状态", "登记状态", "经营状态"],
        Tags => &["tags", "标签"],
        /// The draw's `tier` column too: an imported class, or a tier given directly.
        CreditClass => &[
            "credit_class",
            "tier",
            "credit_tier",
            "信用等级",
            "风险等级",
            "风险分类",
            "信用风险分类",
        ],
    }
}

/// An object in the library. Its credit tier is not a field: it follows from the penalty
/// records as of the draw date, or from `credit_class` where the deployment imports one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    pub id: ObjectId,
    pub name: String,
    pub kind: String,
    pub region: String,
    pub industry: String,
    pub status: ObjectStatus,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_class: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

const UNKNOWN_KIND: &str = "unknown kind (enterprise, individual_business, social_organisation, public_institution, product, project, behaviour)";

impl ObjectRecord {
    pub(super) fn parse<R: Cells + ?Sized>(row: &mut RowReader<ObjectColumn, R>) -> Option<Self> {
        use ObjectColumn as C;
        let id = row.object_id(C::Id);
        let kind = match parse_kind(row.get(C::Kind)) {
            Some(k) => Some(k),
            None => row.fail(C::Kind, UNKNOWN_KIND),
        };
        if let (Some(id), Some(kind)) = (&id, kind) {
            if ENTITY_KINDS.contains(&kind) {
                if let Err(e) = check_uscc(id.as_str()) {
                    row.fail::<()>(
                        C::Id,
                        format!("not a valid unified social credit code: {e}"),
                    );
                }
            }
        }
        let name = row.nonempty(C::Name);
        let status = match ObjectStatus::parse(row.get(C::Status)) {
            Some(s) => Some(s),
            None => row.fail(
                C::Status,
                "unknown status (active, closed, deregistered, revoked)",
            ),
        };
        let tags = row.strings(C::Tags);
        let credit_class = match row.get(C::CreditClass) {
            "" => None,
            c => Some(tier_alias(c).to_owned()),
        };
        Some(Self {
            id: id?,
            name: name?,
            kind: kind?.to_owned(),
            region: row.text(C::Region),
            industry: row.text(C::Industry),
            status: status?,
            tags: tags?,
            credit_class,
            attributes: row.cols.extras(row.cells),
        })
    }

    pub(super) fn to_row(&self) -> Vec<String> {
        ObjectColumn::ALL
            .iter()
            .map(|c| match c {
                ObjectColumn::Id => self.id.to_string(),
                ObjectColumn::Name => self.name.clone(),
                ObjectColumn::Kind => self.kind.clone(),
                ObjectColumn::Region => self.region.clone(),
                ObjectColumn::Industry => self.industry.clone(),
                ObjectColumn::Status => self.status.as_str().into(),
                ObjectColumn::Tags => self.tags.join(";"),
                ObjectColumn::CreditClass => self.credit_class.clone().unwrap_or_default(),
            })
            .collect()
    }
}
