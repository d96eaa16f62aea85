use sea_orm::entity::prelude::*;

/// The PDF of a completed booking's test protocol.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "protocols")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub assignment: i64,
    pub file_name: String,
    #[sea_orm(column_type = "Blob")]
    pub content: Vec<u8>,
    pub size: i64,
    pub sha256: String,
    pub uploaded_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
