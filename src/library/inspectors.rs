//! The inspector library (检查人员名录库): its columns and records. The draw CLI reads its
//! inspector file with the same columns.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::columns::{Cells, Column, columns};
use super::fields::join_list;
use super::row::RowReader;
use crate::core::model::{InspectorId, ObjectId};

columns! {
    pub enum InspectorColumn (required: Id | Name | Departments | CertificateNo | CertificateExpiry) {
        Id => &["id", "执法人员编号", "人员编号", "工号", "编号"],
        Name => &["name", "姓名"],
        Departments => &["departments", "department", "部门", "所属部门", "执法部门"],
        Region => &["region", "区域", "所属区域", "辖区"],
        Specialties => &["specialties", "specialty", "专业", "专长", "专业领域"],
        CertificateNo => &["certificate_no", "执法证号", "执法证编号", "执法证件号"],
        CertificateExpiry => &["certificate_expiry", "执法证有效期", "有效期至", "证件有效期"],
        Conflicts => &["conflicts", "回避对象", "利害关系对象"],
        MaxLoad => &["max_load", "最大任务数", "任务上限"],
        Active => &["active", "在岗", "是否在岗", "启用"],
        Role => &["role", "角色", "组内角色"],
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TeamRole {
    Leader,
    Expert,
    Member,
}

impl TeamRole {
    fn as_str(self) -> &'static str {
        match self {
            TeamRole::Leader => "leader",
            TeamRole::Expert => "expert",
            TeamRole::Member => "member",
        }
    }
}

/// An inspector in the library.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InspectorRecord {
    pub id: InspectorId,
    pub name: String,
    pub departments: Vec<String>,
    pub region: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub specialties: Vec<String>,
    pub certificate_no: String,
    pub certificate_expiry: NaiveDate,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<ObjectId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_load: Option<u32>,
    pub active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<TeamRole>,
}

impl InspectorRecord {
    pub(super) fn parse<R: Cells + ?Sized>(
        row: &mut RowReader<InspectorColumn, R>,
    ) -> Option<Self> {
        use InspectorColumn as C;
        let id = match InspectorId::parse(row.get(C::Id)) {
            Ok(id) => Some(id),
            Err(e) => row.fail(C::Id, e.to_string()),
        };
        let name = row.nonempty(C::Name);
        let departments = match row.get(C::Departments) {
            "" => row.fail(C::Departments, "is empty"),
            _ => row.strings(C::Departments),
        };
        let specialties = row.strings(C::Specialties);
        let certificate_no = row.nonempty(C::CertificateNo);
        let certificate_expiry = row.date(C::CertificateExpiry);
        let conflicts = row.list(C::Conflicts, |s| {
            ObjectId::parse(s).map_err(|e| e.to_string())
        });
        let max_load = row.positive(C::MaxLoad);
        let active = row.flag(C::Active, true);
        let role = match row.get(C::Role) {
            "" => Some(None),
            "leader" | "组长" => Some(Some(TeamRole::Leader)),
            "expert" | "专家" => Some(Some(TeamRole::Expert)),
            "member" | "组员" => Some(Some(TeamRole::Member)),
            _ => row.fail(C::Role, "unknown role (leader, expert, member)"),
        };
        Some(Self {
            id: id?,
            name: name?,
            departments: departments?,
            region: row.text(C::Region),
            specialties: specialties?,
            certificate_no: certificate_no?,
            certificate_expiry: certificate_expiry?,
            conflicts: conflicts?,
            max_load: max_load?,
            active: active?,
            role: role?,
        })
    }

    pub(super) fn to_row(&self) -> Vec<String> {
        InspectorColumn::ALL
            .iter()
            .map(|c| match c {
                InspectorColumn::Id => self.id.to_string(),
                InspectorColumn::Name => self.name.clone(),
                InspectorColumn::Departments => self.departments.join(";"),
                InspectorColumn::Region => self.region.clone(),
                InspectorColumn::Specialties => self.specialties.join(";"),
                InspectorColumn::CertificateNo => self.certificate_no.clone(),
                InspectorColumn::CertificateExpiry => self.certificate_expiry.to_string(),
                InspectorColumn::Conflicts => join_list(&self.conflicts, ObjectId::as_str),
                InspectorColumn::MaxLoad => {
                    self.max_load.map(|m| m.to_string()).unwrap_or_default()
                }
                InspectorColumn::Active => if self.active { "yes" } else { "no" }.into(),
                InspectorColumn::Role => self.role.map(TeamRole::as_str).unwrap_or_default().into(),
            })
            .collect()
    }
}
