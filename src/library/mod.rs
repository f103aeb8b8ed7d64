//! The two libraries and the data around them (credit records, inspection history, check items),
//! as validated records. Pure: rows of text in, records and their canonical JSON out.
//!
//! Every record has a key (its identity across imports) and a canonical JSON form (`data`): two
//! imports of the same record give the same bytes, so the store can tell "unchanged" from
//! "changed" by comparing them.

pub mod calendar;
pub mod fields;
pub mod plan;
pub mod pool;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::core::model::{ENTITY_KINDS, InspectorId, ObjectId, ObjectStatus, check_uscc};
use crate::core::policy::parse_ratio;
use fields::{Columns, parse_bool, parse_date, parse_kind, split_list};

/// What a file holds; one library table each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Kind {
    Objects,
    Inspectors,
    /// Administrative penalties and the joint-punishment list (信用记录).
    Penalties,
    /// Past inspections (检查记录), for cooldown and inspector rotation.
    Inspections,
    /// The check-item list (抽查事项清单).
    Items,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Objects,
        Kind::Inspectors,
        Kind::Penalties,
        Kind::Inspections,
        Kind::Items,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Objects => "objects",
            Kind::Inspectors => "inspectors",
            Kind::Penalties => "penalties",
            Kind::Inspections => "inspections",
            Kind::Items => "items",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Header aliases (canonical name first), in export order.
    pub fn columns(self) -> &'static [&'static [&'static str]] {
        match self {
            Kind::Objects => OBJECT_COLUMNS,
            Kind::Inspectors => INSPECTOR_COLUMNS,
            Kind::Penalties => PENALTY_COLUMNS,
            Kind::Inspections => INSPECTION_COLUMNS,
            Kind::Items => ITEM_COLUMNS,
        }
    }

    fn required(self) -> &'static [usize] {
        match self {
            Kind::Objects => &[0, 1],
            Kind::Inspectors => &[0, 1, 2, 5, 6],
            Kind::Penalties => &[0, 2, 5],
            Kind::Inspections => &[0, 1, 2],
            Kind::Items => &[0, 1, 2, 3],
        }
    }
}

const OBJECT_COLUMNS: &[&[&str]] = &[
    &[
        "id",
        "uscc",
        "code",
        "统一社会信用代码",
        "信用代码",
        "对象编号",
        "编号",
    ],
    &["name", "名称", "企业名称", "对象名称"],
    &["kind", "type", "类型", "对象类型", "主体类型"],
    &["region", "区域", "所属区域", "辖区", "属地"],
    &["industry", "行业", "所属行业"],
    &["status", "状态", "登记状态", "经营状态"],
    &["tags", "标签"],
    &[
        "credit_class",
        "tier",
        "credit_tier",
        "信用等级",
        "风险等级",
        "风险分类",
        "信用风险分类",
    ],
];

pub const INSPECTOR_COLUMNS: &[&[&str]] = &[
    &["id", "执法人员编号", "人员编号", "工号", "编号"],
    &["name", "姓名"],
    &["departments", "department", "部门", "所属部门", "执法部门"],
    &["region", "区域", "所属区域", "辖区"],
    &["specialties", "specialty", "专业", "专长", "专业领域"],
    &["certificate_no", "执法证号", "执法证编号", "执法证件号"],
    &[
        "certificate_expiry",
        "执法证有效期",
        "有效期至",
        "证件有效期",
    ],
    &["conflicts", "回避对象", "利害关系对象"],
    &["max_load", "最大任务数", "任务上限"],
    &["active", "在岗", "是否在岗", "启用"],
    &["role", "角色", "组内角色"],
];

const PENALTY_COLUMNS: &[&[&str]] = &[
    &[
        "object_id",
        "id",
        "统一社会信用代码",
        "信用代码",
        "对象编号",
    ],
    &["kind", "type", "类型", "记录类型"],
    &["date", "decision_date", "处罚日期", "决定日期", "列入日期"],
    &["until", "removed", "移出日期", "有效期至"],
    &["authority", "处罚机关", "决定机关", "列入机关"],
    &[
        "document_no",
        "document",
        "文书号",
        "决定书文号",
        "处罚决定书文号",
        "文号",
    ],
];

const INSPECTION_COLUMNS: &[&[&str]] = &[
    &[
        "object_id",
        "id",
        "统一社会信用代码",
        "信用代码",
        "对象编号",
    ],
    &["date", "检查日期"],
    &["inspectors", "检查人员", "执法人员"],
    &["result", "检查结果", "结果"],
    &["task", "task_id", "任务", "任务编号"],
];

const ITEM_COLUMNS: &[&[&str]] = &[
    &["code", "id", "事项编号", "编号"],
    &["name", "事项名称", "名称"],
    &["legal_basis", "检查依据", "法律依据"],
    &["department", "责任部门", "实施部门", "部门"],
    &["kinds", "对象类型", "检查对象类型"],
    &["industries", "行业", "检查对象行业"],
    &["regions", "区域", "检查区域"],
    &["method", "检查方式", "方式"],
    &["category", "事项类别", "类别"],
    &["ratios", "抽查比例"],
    &["inspectors_per_object", "检查人员数", "每户检查人员数"],
    &["specialty", "专业要求", "专业"],
    &["frequency", "抽查频次", "频次"],
    &["active", "启用", "是否启用"],
];

/// One bad value in a row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub column: String,
    pub value: String,
    pub reason: String,
}

/// An object in the library (检查对象名录库). Its credit tier is not a field: it follows from the
/// credit records as of the draw date, or from `credit_class` where the deployment imports one.
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TeamRole {
    Leader,
    Expert,
    Member,
}

/// An inspector in the library (检查人员名录库).
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreditKind {
    /// An administrative penalty decision (行政处罚).
    Penalty,
    /// Listed for joint punishment of serious dishonesty (失信联合惩戒), from `date` until `until`.
    JointPunishment,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditRecord {
    pub object_id: ObjectId,
    pub kind: CreditKind,
    pub date: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<NaiveDate>,
    pub authority: String,
    pub document_no: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InspectionRecord {
    pub object_id: ObjectId,
    pub date: NaiveDate,
    /// Sorted.
    pub inspectors: Vec<InspectorId>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub result: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub task: String,
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

/// A validated row of any kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    Object(ObjectRecord),
    Inspector(InspectorRecord),
    Credit(CreditRecord),
    Inspection(InspectionRecord),
    Item(ItemRecord),
}

impl Record {
    /// The identity across imports: ids, or (object, document) for credit records, or
    /// (object, date, task) for inspections.
    pub fn key(&self) -> String {
        match self {
            Record::Object(o) => o.id.to_string(),
            Record::Inspector(i) => i.id.to_string(),
            Record::Credit(c) => format!("{}|{}", c.object_id, c.document_no),
            Record::Inspection(i) => format!("{}|{}|{}", i.object_id, i.date, i.task),
            Record::Item(i) => i.code.clone(),
        }
    }

    /// Canonical JSON: struct fields in declaration order, lists sorted, maps by key.
    pub fn data(&self) -> String {
        match self {
            Record::Object(r) => serde_json::to_string(r),
            Record::Inspector(r) => serde_json::to_string(r),
            Record::Credit(r) => serde_json::to_string(r),
            Record::Inspection(r) => serde_json::to_string(r),
            Record::Item(r) => serde_json::to_string(r),
        }
        .expect("records serialise")
    }

    pub fn from_data(kind: Kind, data: &str) -> Result<Self, serde_json::Error> {
        Ok(match kind {
            Kind::Objects => Record::Object(serde_json::from_str(data)?),
            Kind::Inspectors => Record::Inspector(serde_json::from_str(data)?),
            Kind::Penalties => Record::Credit(serde_json::from_str(data)?),
            Kind::Inspections => Record::Inspection(serde_json::from_str(data)?),
            Kind::Items => Record::Item(serde_json::from_str(data)?),
        })
    }

    /// The record as a row under `Kind::columns` canonical headers (what `export` writes and
    /// `import` reads back unchanged).
    pub fn to_row(&self) -> Vec<String> {
        let list = |v: &[String]| v.join(";");
        let date = |d: &Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
        match self {
            Record::Object(o) => vec![
                o.id.to_string(),
                o.name.clone(),
                o.kind.clone(),
                o.region.clone(),
                o.industry.clone(),
                o.status.as_str().into(),
                list(&o.tags),
                o.credit_class.clone().unwrap_or_default(),
            ],
            Record::Inspector(i) => vec![
                i.id.to_string(),
                i.name.clone(),
                list(&i.departments),
                i.region.clone(),
                list(&i.specialties),
                i.certificate_no.clone(),
                i.certificate_expiry.to_string(),
                i.conflicts
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(";"),
                i.max_load.map(|m| m.to_string()).unwrap_or_default(),
                if i.active { "yes" } else { "no" }.into(),
                i.role
                    .map(|r| match r {
                        TeamRole::Leader => "leader",
                        TeamRole::Expert => "expert",
                        TeamRole::Member => "member",
                    })
                    .unwrap_or_default()
                    .into(),
            ],
            Record::Credit(c) => vec![
                c.object_id.to_string(),
                match c.kind {
                    CreditKind::Penalty => "penalty",
                    CreditKind::JointPunishment => "joint_punishment",
                }
                .into(),
                c.date.to_string(),
                date(&c.until),
                c.authority.clone(),
                c.document_no.clone(),
            ],
            Record::Inspection(i) => vec![
                i.object_id.to_string(),
                i.date.to_string(),
                i.inspectors
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(";"),
                i.result.clone(),
                i.task.clone(),
            ],
            Record::Item(i) => vec![
                i.code.clone(),
                i.name.clone(),
                i.legal_basis.clone(),
                i.department.clone(),
                list(&i.kinds),
                list(&i.industries),
                list(&i.regions),
                match i.method {
                    Method::Onsite => "onsite",
                    Method::Documentary => "documentary",
                    Method::Online => "online",
                }
                .into(),
                match i.category {
                    ItemCategory::General => "general",
                    ItemCategory::Key => "key",
                }
                .into(),
                i.ratios_bp
                    .iter()
                    .map(|(t, bp)| format!("{t}={}", crate::core::policy::format_ratio(*bp)))
                    .collect::<Vec<_>>()
                    .join(";"),
                i.inspectors_per_object.to_string(),
                i.specialty.clone(),
                i.frequency.clone(),
                if i.active { "yes" } else { "no" }.into(),
            ],
        }
    }

    /// Extra (attribute) columns an export adds after the known ones.
    pub fn attributes(&self) -> Option<&BTreeMap<String, String>> {
        match self {
            Record::Object(o) => Some(&o.attributes),
            _ => None,
        }
    }
}

/// Reads rows of one kind of file: built from the header row, then one `parse` per data row.
pub struct Parser {
    kind: Kind,
    cols: Columns,
}

impl Parser {
    /// Errors are "line 1: …" messages about the header.
    pub fn new<S: AsRef<str>>(kind: Kind, headers: &[S]) -> Result<Self, String> {
        let cols = Columns::new(
            headers.iter().map(AsRef::as_ref),
            kind.columns(),
            kind.required(),
        )?;
        if kind != Kind::Objects && !cols.extra.is_empty() {
            let names: Vec<&str> = cols.extra.iter().map(|(_, h)| h.as_str()).collect();
            return Err(format!(
                "line 1: unknown column(s) {} (known: {})",
                names.join(", "),
                kind.columns()
                    .iter()
                    .map(|a| a[0])
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(Self { kind, cols })
    }

    /// Every bad value of the row, not only the first.
    pub fn parse(&self, cells: &[String]) -> Result<Record, Vec<FieldError>> {
        let mut row = RowReader {
            cols: &self.cols,
            cells,
            errors: Vec::new(),
        };
        let record = match self.kind {
            Kind::Objects => row.object().map(Record::Object),
            Kind::Inspectors => row.inspector().map(Record::Inspector),
            Kind::Penalties => row.credit().map(Record::Credit),
            Kind::Inspections => row.inspection().map(Record::Inspection),
            Kind::Items => row.item().map(Record::Item),
        };
        match record {
            Some(r) if row.errors.is_empty() => Ok(r),
            _ => Err(row.errors),
        }
    }
}

struct RowReader<'a> {
    cols: &'a Columns,
    cells: &'a [String],
    errors: Vec<FieldError>,
}

impl RowReader<'_> {
    fn get(&self, column: usize) -> &str {
        self.cols.get(self.cells, column)
    }

    fn fail<T>(&mut self, column: usize, reason: impl Into<String>) -> Option<T> {
        self.errors.push(FieldError {
            column: self.cols.name(column).into(),
            value: self.get(column).chars().take(80).collect(),
            reason: reason.into(),
        });
        None
    }

    fn text(&mut self, column: usize) -> Option<String> {
        Some(self.get(column).to_owned())
    }

    fn nonempty(&mut self, column: usize) -> Option<String> {
        match self.get(column) {
            "" => self.fail(column, "is empty"),
            v => Some(v.to_owned()),
        }
    }

    fn date(&mut self, column: usize) -> Option<NaiveDate> {
        match parse_date(self.get(column)) {
            Ok(d) => Some(d),
            Err(e) => self.fail(column, e),
        }
    }

    fn optional_date(&mut self, column: usize) -> Option<Option<NaiveDate>> {
        match self.get(column) {
            "" => Some(None),
            _ => self.date(column).map(Some),
        }
    }

    fn flag(&mut self, column: usize, default: bool) -> Option<bool> {
        match self.get(column) {
            "" => Some(default),
            v => match parse_bool(v) {
                Some(b) => Some(b),
                None => self.fail(column, "is not yes/no"),
            },
        }
    }

    fn object_id(&mut self, column: usize) -> Option<ObjectId> {
        match ObjectId::parse(self.get(column)) {
            Ok(id) => Some(id),
            Err(e) => self.fail(column, e.to_string()),
        }
    }

    fn list<T: Ord>(
        &mut self,
        column: usize,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Option<Vec<T>> {
        let mut out = Vec::new();
        for v in split_list(self.get(column)) {
            match parse(&v) {
                Ok(t) => out.push(t),
                Err(e) => return self.fail(column, format!("{v:?}: {e}")),
            }
        }
        out.sort();
        out.dedup();
        Some(out)
    }

    fn strings(&mut self, column: usize) -> Option<Vec<String>> {
        self.list(column, |s| Ok(s.to_owned()))
    }

    fn positive(&mut self, column: usize) -> Option<Option<u32>> {
        match self.get(column) {
            "" => Some(None),
            m => match m.parse::<u32>().ok().filter(|&v| v > 0) {
                Some(v) => Some(Some(v)),
                None => self.fail(column, "is not a whole number of at least 1"),
            },
        }
    }

    fn object(&mut self) -> Option<ObjectRecord> {
        let id = self.object_id(0);
        let kind = match parse_kind(self.get(2)) {
            Some(k) => Some(k),
            None => self.fail(2, "unknown kind (enterprise, individual_business, social_organisation, public_institution, product, project, behaviour)"),
        };
        if let (Some(id), Some(kind)) = (&id, kind) {
            if ENTITY_KINDS.contains(&kind) {
                if let Err(e) = check_uscc(id.as_str()) {
                    self.fail::<()>(0, format!("not a valid unified social credit code: {e}"));
                }
            }
        }
        let name = self.nonempty(1);
        let status = match ObjectStatus::parse(self.get(5)) {
            Some(s) => Some(s),
            None => self.fail(5, "unknown status (active, closed, deregistered, revoked)"),
        };
        let tags = self.strings(6);
        let credit_class = match self.get(7) {
            "" => None,
            c => Some(fields::tier_alias(c).to_owned()),
        };
        let attributes = self
            .cols
            .extra
            .iter()
            .filter_map(|(i, h)| self.cells.get(*i).map(|v| (h.clone(), v.trim().to_owned())))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        Some(ObjectRecord {
            id: id?,
            name: name?,
            kind: kind?.to_owned(),
            region: self.text(3)?,
            industry: self.text(4)?,
            status: status?,
            tags: tags?,
            credit_class,
            attributes,
        })
    }

    fn inspector(&mut self) -> Option<InspectorRecord> {
        let id = match InspectorId::parse(self.get(0)) {
            Ok(id) => Some(id),
            Err(e) => self.fail(0, e.to_string()),
        };
        let name = self.nonempty(1);
        let departments = match self.get(2) {
            "" => self.fail(2, "is empty"),
            _ => self.strings(2),
        };
        let specialties = self.strings(4);
        let certificate_no = self.nonempty(5);
        let certificate_expiry = self.date(6);
        let conflicts = self.list(7, |s| ObjectId::parse(s).map_err(|e| e.to_string()));
        let max_load = self.positive(8);
        let active = self.flag(9, true);
        let role = match self.get(10) {
            "" => Some(None),
            "leader" | "组长" => Some(Some(TeamRole::Leader)),
            "expert" | "专家" => Some(Some(TeamRole::Expert)),
            "member" | "组员" => Some(Some(TeamRole::Member)),
            _ => self.fail(10, "unknown role (leader, expert, member)"),
        };
        Some(InspectorRecord {
            id: id?,
            name: name?,
            departments: departments?,
            region: self.text(3)?,
            specialties: specialties?,
            certificate_no: certificate_no?,
            certificate_expiry: certificate_expiry?,
            conflicts: conflicts?,
            max_load: max_load?,
            active: active?,
            role: role?,
        })
    }

    fn credit(&mut self) -> Option<CreditRecord> {
        let object_id = self.object_id(0);
        let kind = match self.get(1) {
            "" | "penalty" | "行政处罚" | "处罚" => Some(CreditKind::Penalty),
            "joint_punishment" | "失信联合惩戒" | "严重失信" | "联合惩戒" => {
                Some(CreditKind::JointPunishment)
            }
            _ => self.fail(1, "unknown kind (penalty, joint_punishment)"),
        };
        let date = self.date(2);
        let until = self.optional_date(3);
        if let (Some(d), Some(Some(u))) = (date, until) {
            if u <= d {
                self.fail::<()>(3, format!("is not after the date {d}"));
            }
        }
        let document_no = self.nonempty(5);
        Some(CreditRecord {
            object_id: object_id?,
            kind: kind?,
            date: date?,
            until: until?,
            authority: self.text(4)?,
            document_no: document_no?,
        })
    }

    fn inspection(&mut self) -> Option<InspectionRecord> {
        let object_id = self.object_id(0);
        let date = self.date(1);
        let inspectors = match self.get(2) {
            "" => self.fail(2, "is empty"),
            _ => self.list(2, |s| InspectorId::parse(s).map_err(|e| e.to_string())),
        };
        Some(InspectionRecord {
            object_id: object_id?,
            date: date?,
            inspectors: inspectors?,
            result: self.text(3)?,
            task: self.text(4)?,
        })
    }

    fn item(&mut self) -> Option<ItemRecord> {
        let code = match self.get(0) {
            c if c.is_empty() || c.contains('|') || c.chars().any(char::is_control) => {
                self.fail(0, "is empty or holds '|' or a control character")
            }
            c => Some(c.to_owned()),
        };
        let name = self.nonempty(1);
        let legal_basis = self.nonempty(2);
        let department = self.nonempty(3);
        let kinds = self.list(4, |s| {
            parse_kind(s)
                .map(str::to_owned)
                .ok_or_else(|| "unknown kind".to_owned())
        });
        let industries = self.strings(5);
        let regions = self.strings(6);
        let method = match self.get(7) {
            "" | "onsite" | "现场检查" | "实地核查" => Some(Method::Onsite),
            "documentary" | "书面检查" => Some(Method::Documentary),
            "online" | "网络监测" | "网络检查" => Some(Method::Online),
            _ => self.fail(7, "unknown method (onsite, documentary, online)"),
        };
        let category = match self.get(8) {
            "" | "general" | "一般" | "一般事项" => Some(ItemCategory::General),
            "key" | "重点" | "重点事项" => Some(ItemCategory::Key),
            _ => self.fail(8, "unknown category (general, key)"),
        };
        let mut ratios_bp = BTreeMap::new();
        for part in split_list(self.get(9)) {
            let parsed = part
                .split_once(['=', ':', '：'])
                .ok_or_else(|| "write tier=ratio, e.g. good=3%".to_owned())
                .and_then(|(t, r)| Ok((fields::tier_alias(t.trim()).to_owned(), parse_ratio(r)?)));
            match parsed {
                Ok((tier, bp)) => {
                    if ratios_bp.insert(tier.clone(), bp).is_some() {
                        self.fail::<()>(9, format!("tier {tier} is given twice"));
                    }
                }
                Err(e) => {
                    self.fail::<()>(9, format!("{part:?}: {e}"));
                }
            }
        }
        let per_object = match self.get(10) {
            "" => Some(2),
            v => match v.parse::<u32>().ok().filter(|&n| n >= 2) {
                Some(n) => Some(n),
                None => self.fail(
                    10,
                    "must be a whole number of at least 2 (two inspectors per object)",
                ),
            },
        };
        let active = self.flag(13, true);
        Some(ItemRecord {
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
            specialty: self.text(11)?,
            frequency: self.text(12)?,
            active: active?,
        })
    }
}
