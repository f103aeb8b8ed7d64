//! Past inspections (检查记录), for cooldown and inspector rotation: columns and records.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::columns::{Cells, Column, columns};
use super::fields::join_list;
use super::row::RowReader;
use crate::core::model::{InspectorId, ObjectId};

columns! {
    pub enum InspectionColumn (required: ObjectId | Date | Inspectors) {
        ObjectId => &["object_id", "id", "统一社会信用代码", "信用代码", "对象编号"],
        Date => &["date", "检查日期"],
        Inspectors => &["inspectors", "检查人员", "执法人员"],
        Result => &["result", "检查结果", "结果"],
        Task => &["task", "task_id", "任务", "任务编号"],
    }
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

impl InspectionRecord {
    pub(super) fn parse<R: Cells + ?Sized>(
        row: &mut RowReader<InspectionColumn, R>,
    ) -> Option<Self> {
        use InspectionColumn as C;
        let object_id = row.object_id(C::ObjectId);
        let date = row.date(C::Date);
        let inspectors = match row.get(C::Inspectors) {
            "" => row.fail(C::Inspectors, "is empty"),
            _ => row.list(C::Inspectors, |s| {
                InspectorId::parse(s).map_err(|e| e.to_string())
            }),
        };
        Some(Self {
            object_id: object_id?,
            date: date?,
            inspectors: inspectors?,
            result: row.text(C::Result),
            task: row.text(C::Task),
        })
    }

    pub(super) fn to_row(&self) -> Vec<String> {
        InspectionColumn::ALL
            .iter()
            .map(|c| match c {
                InspectionColumn::ObjectId => self.object_id.to_string(),
                InspectionColumn::Date => self.date.to_string(),
                InspectionColumn::Inspectors => join_list(&self.inspectors, InspectorId::as_str),
                InspectionColumn::Result => self.result.clone(),
                InspectionColumn::Task => self.task.clone(),
            })
            .collect()
    }
}
