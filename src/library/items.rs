//! The check-item list (抽查事项清单): columns and records.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::columns::{Cells, Column, columns};
use super::fields::{parse_kind, split_list, tier_alias};
use super::row::RowReader;
use crate::core::policy::{format_ratio, parse_ratio};

columns! {
    pub enum ItemColumn (required: Code | Name | LegalBasis | Department) {
        Code => &["code", "id", "事项编号", "编号"],
        Name => &["name", "事项名称", "名称"],
        LegalBasis => &["legal_basis", "检查依据", "法律依据"],
        Department => &["department", "责任部门", "实施部门", "部门"],
        Kinds => &["kinds", "对象类型", "检查对象类型"],
        Industries => &["industries", "行业", "检查对象行业"],
        Regions => &["regions", "区域", "检查区域"],
        Method => &["method", "检查方式", "方式"],
        Category => &["category", "事项类别", "类别"],
        Ratios => &["ratios", "抽查比例"],
        InspectorsPerObject => &["inspectors_per_object", "检查人员数", "每户检查人员数"],
        Specialty => &["specialty", "专业要求", "专业"],
        Frequency => &["frequency", "抽查频次", "频次"],
        Active => &["active", "启用", "是否启用"],
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Onsite,
    Documentary,
    Online,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemCategory {
    General,
    Key,
}

/// A check item (抽查事项).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRecord {
    pub code: String,
    pub name: String,
    pub legal_basis: String,
    pub department: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub industries: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    pub method: Method,
    pub category: ItemCategory,
    /// Per tier: a ratio in basis points, written "good=3%;focus=20%".
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ratios_bp: BTreeMap<String, u32>,
    pub inspectors_per_object: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub specialty: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub frequency: String,
    pub active: bool,
}

impl ItemRecord {
    pub(super) fn parse<R: Cells + ?Sized>(row: &mut RowReader<ItemColumn, R>) -> Option<Self> {
        use ItemColumn as C;
        let code = match row.get(C::Code) {
            c if c.is_empty() || c.contains('|') || c.chars().any(char::is_control) => {
                row.fail(C::Code, "is empty or holds '|' or a control character")
            }
            c => Some(c.to_owned()),
        };
        let name = row.nonempty(C::Name);
        let legal_basis = row.nonempty(C::LegalBasis);
        let department = row.nonempty(C::Department);
        let kinds = row.list(C::Kinds, |s| {
            parse_kind(s)
                .map(str::to_owned)
                .ok_or_else(|| "unknown kind".to_owned())
        });
        let industries = row.strings(C::Industries);
        let regions = row.strings(C::Regions);
        let method = match row.get(C::Method) {
            "" | "onsite" | "现场检查" | "实地核查" => Some(Method::Onsite),
            "documentary" | "书面检查" => Some(Method::Documentary),
            "online" | "网络监测" | "网络检查" => Some(Method::Online),
            _ => row.fail(C::Method, "unknown method (onsite, documentary, online)"),
        };
        let category = match row.get(C::Category) {
            "" | "general" | "一般" | "一般事项" => Some(ItemCategory::General),
            "key" | "重点" | "重点事项" => Some(ItemCategory::Key),
            _ => row.fail(C::Category, "unknown category (general, key)"),
        };
        let mut ratios_bp = BTreeMap::new();
        for part in split_list(row.get(C::Ratios)) {
            let parsed = part
                .split_once(['=', ':', '：'])
                .ok_or_else(|| "write tier=ratio, e.g. good=3%".to_owned())
                .and_then(|(t, r)| Ok((tier_alias(t.trim()).to_owned(), parse_ratio(r)?)));
            match parsed {
                Ok((tier, bp)) => {
                    if ratios_bp.insert(tier.clone(), bp).is_some() {
                        row.fail::<()>(C::Ratios, format!("tier {tier} is given twice"));
                    }
                }
                Err(e) => {
                    row.fail::<()>(C::Ratios, format!("{part:?}: {e}"));
                }
            }
        }
        let per_object = match row.get(C::InspectorsPerObject) {
            "" => Some(2),
            v => match v.parse::<u32>().ok().filter(|&n| n >= 2) {
                Some(n) => Some(n),
                None => row.fail(
                    C::InspectorsPerObject,
                    "must be a whole number of at least 2 (two inspectors per object)",
                ),
            },
        };
        let active = row.flag(C::Active, true);
        Some(Self {
            code: code?,
            name: name?,
            legal_basis: legal_basis?,
            department: department?,
            kinds: kinds?,
            industries: industries?,
            regions: regions?,
            method: method?,
            category: category?,
            ratios_bp,
            inspectors_per_object: per_object?,
            specialty: row.text(C::Specialty),
            frequency: row.text(C::Frequency),
            active: active?,
        })
    }

    pub(super) fn to_row(&self) -> Vec<String> {
        ItemColumn::ALL
            .iter()
            .map(|c| match c {
                ItemColumn::Code => self.code.clone(),
                ItemColumn::Name => self.name.clone(),
                ItemColumn::LegalBasis => self.legal_basis.clone(),
                ItemColumn::Department => self.department.clone(),
                ItemColumn::Kinds => self.kinds.join(";"),
                ItemColumn::Industries => self.industries.join(";"),
                ItemColumn::Regions => self.regions.join(";"),
                ItemColumn::Method => match self.method {
                    Method::Onsite => "onsite",
                    Method::Documentary => "documentary",
                    Method::Online => "online",
                }
                .into(),
                ItemColumn::Category => match self.category {
                    ItemCategory::General => "general",
                    ItemCategory::Key => "key",
                }
                .into(),
                ItemColumn::Ratios => self
                    .ratios_bp
                    .iter()
                    .map(|(t, bp)| format!("{t}={}", format_ratio(*bp)))
                    .collect::<Vec<_>>()
                    .join(";"),
                ItemColumn::InspectorsPerObject => self.inspectors_per_object.to_string(),
                ItemColumn::Specialty => self.specialty.clone(),
                ItemColumn::Frequency => self.frequency.clone(),
                ItemColumn::Active => if self.active { "yes" } else { "no" }.into(),
            })
            .collect()
    }
}
