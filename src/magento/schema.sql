-- Magento 2.4 schema subset (MariaDB 10.11, InnoDB, utf8mb4): the tables the bridge reads and writes,
-- created by the tests and by `segmint magento seed`.
-- Open-source tables: translated from the db_schema.xml files of Magento Open Source 2.4.8-p1
--   (vendor/magento/module-*/etc/db_schema.xml, github.com/controlaltdelete-nl/magento2-code-tracker,
--    branch magento-2.4.8-p1, commit 696a4f521f5f3a988acfc1b4bf4bb67a09b753ea).
-- Foreign keys are deliberately omitted. Column comments are omitted. Primary keys, unique keys and
-- non-unique indexes are kept under their Magento referenceId names.
-- sales_order, sales_order_item, sales_order_address, quote, quote_item, quote_address keep only a
-- subset of their columns (every NOT NULL column without a default, plus the columns the tests use);
-- indexes that reference dropped columns are omitted for those tables.
-- Only open-source column definitions are used for the non-Commerce tables (Commerce installs add e.g.
-- customer_eav_attribute.is_used_for_customer_segment and staging columns such as catalog_product_entity.row_id).

-- Store/etc/db_schema.xml
CREATE TABLE `store_website` (
  `website_id` smallint(5) unsigned NOT NULL AUTO_INCREMENT,
  `code` varchar(32) NULL DEFAULT NULL,
  `name` varchar(64) NULL DEFAULT NULL,
  `sort_order` smallint(5) unsigned NOT NULL DEFAULT 0,
  `default_group_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `is_default` smallint(5) unsigned NULL DEFAULT 0,
  PRIMARY KEY (`website_id`),
  UNIQUE KEY `STORE_WEBSITE_CODE` (`code`),
  KEY `STORE_WEBSITE_SORT_ORDER` (`sort_order`),
  KEY `STORE_WEBSITE_DEFAULT_GROUP_ID` (`default_group_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Store/etc/db_schema.xml
CREATE TABLE `store_group` (
  `group_id` smallint(5) unsigned NOT NULL AUTO_INCREMENT,
  `website_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `name` varchar(255) NOT NULL,
  `root_category_id` int(10) unsigned NOT NULL DEFAULT 0,
  `default_store_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `code` varchar(32) NULL DEFAULT NULL,
  PRIMARY KEY (`group_id`),
  UNIQUE KEY `STORE_GROUP_CODE` (`code`),
  KEY `STORE_GROUP_WEBSITE_ID` (`website_id`),
  KEY `STORE_GROUP_DEFAULT_STORE_ID` (`default_store_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Store/etc/db_schema.xml
CREATE TABLE `store` (
  `store_id` smallint(5) unsigned NOT NULL AUTO_INCREMENT,
  `code` varchar(32) NULL DEFAULT NULL,
  `website_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `group_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `name` varchar(255) NOT NULL,
  `sort_order` smallint(5) unsigned NOT NULL DEFAULT 0,
  `is_active` smallint(5) unsigned NOT NULL DEFAULT 0,
  PRIMARY KEY (`store_id`),
  UNIQUE KEY `STORE_CODE` (`code`),
  KEY `STORE_WEBSITE_ID` (`website_id`),
  KEY `STORE_IS_ACTIVE_SORT_ORDER` (`is_active`, `sort_order`),
  KEY `STORE_GROUP_ID` (`group_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Config/etc/db_schema.xml
CREATE TABLE `core_config_data` (
  `config_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `scope` varchar(8) NOT NULL DEFAULT 'default',
  `scope_id` int(11) NOT NULL DEFAULT 0,
  `path` varchar(255) NOT NULL DEFAULT 'general',
  `value` text NULL DEFAULT NULL,
  `updated_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (`config_id`),
  UNIQUE KEY `CORE_CONFIG_DATA_SCOPE_SCOPE_ID_PATH` (`scope`, `scope_id`, `path`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Eav/etc/db_schema.xml
CREATE TABLE `eav_entity_type` (
  `entity_type_id` smallint(5) unsigned NOT NULL AUTO_INCREMENT,
  `entity_type_code` varchar(50) NOT NULL,
  `entity_model` varchar(255) NOT NULL,
  `attribute_model` varchar(255) NULL DEFAULT NULL,
  `entity_table` varchar(255) NULL DEFAULT NULL,
  `value_table_prefix` varchar(255) NULL DEFAULT NULL,
  `entity_id_field` varchar(255) NULL DEFAULT NULL,
  `is_data_sharing` smallint(5) unsigned NOT NULL DEFAULT 1,
  `data_sharing_key` varchar(100) NULL DEFAULT 'default',
  `default_attribute_set_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `increment_model` varchar(255) NULL DEFAULT NULL,
  `increment_per_store` smallint(5) unsigned NOT NULL DEFAULT 0,
  `increment_pad_length` smallint(5) unsigned NOT NULL DEFAULT 8,
  `increment_pad_char` varchar(1) NOT NULL DEFAULT '0',
  `additional_attribute_table` varchar(255) NULL DEFAULT NULL,
  `entity_attribute_collection` varchar(255) NULL DEFAULT NULL,
  PRIMARY KEY (`entity_type_id`),
  KEY `EAV_ENTITY_TYPE_ENTITY_TYPE_CODE` (`entity_type_code`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Eav/etc/db_schema.xml
CREATE TABLE `eav_attribute` (
  `attribute_id` smallint(5) unsigned NOT NULL AUTO_INCREMENT,
  `entity_type_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `attribute_code` varchar(255) NOT NULL,
  `attribute_model` varchar(255) NULL DEFAULT NULL,
  `backend_model` varchar(255) NULL DEFAULT NULL,
  `backend_type` varchar(8) NOT NULL DEFAULT 'static',
  `backend_table` varchar(255) NULL DEFAULT NULL,
  `frontend_model` varchar(255) NULL DEFAULT NULL,
  `frontend_input` varchar(50) NULL DEFAULT NULL,
  `frontend_label` varchar(255) NULL DEFAULT NULL,
  `frontend_class` varchar(255) NULL DEFAULT NULL,
  `source_model` varchar(255) NULL DEFAULT NULL,
  `is_required` smallint(5) unsigned NOT NULL DEFAULT 0,
  `is_user_defined` smallint(5) unsigned NOT NULL DEFAULT 0,
  `default_value` text NULL DEFAULT NULL,
  `is_unique` smallint(5) unsigned NOT NULL DEFAULT 0,
  `note` varchar(255) NULL DEFAULT NULL,
  PRIMARY KEY (`attribute_id`),
  UNIQUE KEY `EAV_ATTRIBUTE_ENTITY_TYPE_ID_ATTRIBUTE_CODE` (`entity_type_id`, `attribute_code`),
  KEY `EAV_ATTRIBUTE_FRONTEND_INPUT_ENTITY_TYPE_ID_IS_USER_DEFINED` (`frontend_input`, `entity_type_id`, `is_user_defined`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Eav/etc/db_schema.xml
CREATE TABLE `eav_attribute_set` (
  `attribute_set_id` smallint(5) unsigned NOT NULL AUTO_INCREMENT,
  `entity_type_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `attribute_set_name` varchar(255) NULL DEFAULT NULL,
  `sort_order` smallint(6) NOT NULL DEFAULT 0,
  PRIMARY KEY (`attribute_set_id`),
  UNIQUE KEY `EAV_ATTRIBUTE_SET_ENTITY_TYPE_ID_ATTRIBUTE_SET_NAME` (`entity_type_id`, `attribute_set_name`),
  KEY `EAV_ATTRIBUTE_SET_ENTITY_TYPE_ID_SORT_ORDER` (`entity_type_id`, `sort_order`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Eav/etc/db_schema.xml
CREATE TABLE `eav_attribute_option` (
  `option_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `attribute_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `sort_order` smallint(5) unsigned NOT NULL DEFAULT 0,
  PRIMARY KEY (`option_id`),
  KEY `EAV_ATTRIBUTE_OPTION_ATTRIBUTE_ID` (`attribute_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Eav/etc/db_schema.xml
CREATE TABLE `eav_attribute_option_value` (
  `value_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `option_id` int(10) unsigned NOT NULL DEFAULT 0,
  `store_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `value` varchar(255) NULL DEFAULT NULL,
  PRIMARY KEY (`value_id`),
  UNIQUE KEY `EAV_ATTRIBUTE_OPTION_VALUE_STORE_ID_OPTION_ID` (`store_id`, `option_id`),
  KEY `EAV_ATTRIBUTE_OPTION_VALUE_OPTION_ID` (`option_id`),
  KEY `EAV_ATTRIBUTE_OPTION_VALUE_STORE_ID` (`store_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Customer/etc/db_schema.xml
CREATE TABLE `customer_eav_attribute` (
  `attribute_id` smallint(5) unsigned NOT NULL,
  `is_visible` smallint(5) unsigned NOT NULL DEFAULT 1,
  `input_filter` varchar(255) NULL DEFAULT NULL,
  `multiline_count` smallint(5) unsigned NOT NULL DEFAULT 1,
  `validate_rules` text NULL DEFAULT NULL,
  `is_system` smallint(5) unsigned NOT NULL DEFAULT 0,
  `sort_order` int(10) unsigned NOT NULL DEFAULT 0,
  `data_model` varchar(255) NULL DEFAULT NULL,
  `is_used_in_grid` smallint(5) unsigned NOT NULL DEFAULT 0,
  `is_visible_in_grid` smallint(5) unsigned NOT NULL DEFAULT 0,
  `is_filterable_in_grid` smallint(5) unsigned NOT NULL DEFAULT 0,
  `is_searchable_in_grid` smallint(5) unsigned NOT NULL DEFAULT 0,
  `grid_filter_condition_type` smallint(5) unsigned NOT NULL DEFAULT 0,
  PRIMARY KEY (`attribute_id`),
  KEY `CUSTOMER_EAV_ATTRIBUTE_SORT_ORDER` (`sort_order`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Catalog/etc/db_schema.xml (+ CatalogSearch/etc/db_schema.xml: search_weight, Swatches/etc/db_schema.xml: additional_data, PageBuilder/etc/db_schema.xml: is_pagebuilder_enabled)
CREATE TABLE `catalog_eav_attribute` (
  `attribute_id` smallint(5) unsigned NOT NULL,
  `frontend_input_renderer` varchar(255) NULL DEFAULT NULL,
  `is_global` smallint(5) unsigned NOT NULL DEFAULT 1,
  `is_visible` smallint(5) unsigned NOT NULL DEFAULT 1,
  `is_searchable` smallint(5) unsigned NOT NULL DEFAULT 0,
  `is_filterable` smallint(5) unsigned NOT NULL DEFAULT 0,
  `is_comparable` smallint(5) unsigned NOT NULL DEFAULT 0,
  `is_visible_on_front` smallint(5) unsigned NOT NULL DEFAULT 0,
  `is_html_allowed_on_front` smallint(5) unsigned NOT NULL DEFAULT 0,
  `is_used_for_price_rules` smallint(5) unsigned NOT NULL DEFAULT 0,
  `is_filterable_in_search` smallint(5) unsigned NOT NULL DEFAULT 0,
  `used_in_product_listing` smallint(5) unsigned NOT NULL DEFAULT 0,
  `used_for_sort_by` smallint(5) unsigned NOT NULL DEFAULT 0,
  `apply_to` varchar(255) NULL DEFAULT NULL,
  `is_visible_in_advanced_search` smallint(5) unsigned NOT NULL DEFAULT 0,
  `position` int(11) NOT NULL DEFAULT 0,
  `is_wysiwyg_enabled` smallint(5) unsigned NOT NULL DEFAULT 0,
  `is_used_for_promo_rules` smallint(5) unsigned NOT NULL DEFAULT 0,
  `is_required_in_admin_store` smallint(5) unsigned NOT NULL DEFAULT 0,
  `is_used_in_grid` smallint(5) unsigned NOT NULL DEFAULT 0,
  `is_visible_in_grid` smallint(5) unsigned NOT NULL DEFAULT 0,
  `is_filterable_in_grid` smallint(5) unsigned NOT NULL DEFAULT 0,
  `search_weight` float NOT NULL DEFAULT 1,
  `additional_data` text NULL DEFAULT NULL,
  `is_pagebuilder_enabled` tinyint(1) NOT NULL DEFAULT 0,
  PRIMARY KEY (`attribute_id`),
  KEY `CATALOG_EAV_ATTRIBUTE_USED_FOR_SORT_BY` (`used_for_sort_by`),
  KEY `CATALOG_EAV_ATTRIBUTE_USED_IN_PRODUCT_LISTING` (`used_in_product_listing`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Customer/etc/db_schema.xml
CREATE TABLE `customer_entity` (
  `entity_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `website_id` smallint(5) unsigned NULL DEFAULT NULL,
  `email` varchar(255) NULL DEFAULT NULL,
  `group_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `increment_id` varchar(50) NULL DEFAULT NULL,
  `store_id` smallint(5) unsigned NULL DEFAULT 0,
  `created_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `updated_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  `is_active` smallint(5) unsigned NOT NULL DEFAULT 1,
  `disable_auto_group_change` smallint(5) unsigned NOT NULL DEFAULT 0,
  `created_in` varchar(255) NULL DEFAULT NULL,
  `prefix` varchar(40) NULL DEFAULT NULL,
  `firstname` varchar(255) NULL DEFAULT NULL,
  `middlename` varchar(255) NULL DEFAULT NULL,
  `lastname` varchar(255) NULL DEFAULT NULL,
  `suffix` varchar(40) NULL DEFAULT NULL,
  `dob` date NULL DEFAULT NULL,
  `password_hash` varchar(128) NULL DEFAULT NULL,
  `rp_token` varchar(128) NULL DEFAULT NULL,
  `rp_token_created_at` datetime NULL DEFAULT NULL,
  `default_billing` int(10) unsigned NULL DEFAULT NULL,
  `default_shipping` int(10) unsigned NULL DEFAULT NULL,
  `taxvat` varchar(50) NULL DEFAULT NULL,
  `confirmation` varchar(64) NULL DEFAULT NULL,
  `gender` smallint(5) unsigned NULL DEFAULT NULL,
  `failures_num` smallint(6) NULL DEFAULT 0,
  `first_failure` timestamp NULL DEFAULT NULL,
  `lock_expires` timestamp NULL DEFAULT NULL,
  `session_cutoff` timestamp NULL DEFAULT NULL,
  PRIMARY KEY (`entity_id`),
  UNIQUE KEY `CUSTOMER_ENTITY_EMAIL_WEBSITE_ID` (`email`, `website_id`),
  KEY `CUSTOMER_ENTITY_STORE_ID` (`store_id`),
  KEY `CUSTOMER_ENTITY_WEBSITE_ID` (`website_id`),
  KEY `CUSTOMER_ENTITY_FIRSTNAME` (`firstname`),
  KEY `CUSTOMER_ENTITY_LASTNAME` (`lastname`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Customer/etc/db_schema.xml
CREATE TABLE `customer_entity_int` (
  `value_id` int(11) NOT NULL AUTO_INCREMENT,
  `attribute_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `entity_id` int(10) unsigned NOT NULL DEFAULT 0,
  `value` int(11) NOT NULL DEFAULT 0,
  PRIMARY KEY (`value_id`),
  UNIQUE KEY `CUSTOMER_ENTITY_INT_ENTITY_ID_ATTRIBUTE_ID` (`entity_id`, `attribute_id`),
  KEY `CUSTOMER_ENTITY_INT_ATTRIBUTE_ID` (`attribute_id`),
  KEY `CUSTOMER_ENTITY_INT_ENTITY_ID_ATTRIBUTE_ID_VALUE` (`entity_id`, `attribute_id`, `value`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Customer/etc/db_schema.xml
CREATE TABLE `customer_entity_varchar` (
  `value_id` int(11) NOT NULL AUTO_INCREMENT,
  `attribute_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `entity_id` int(10) unsigned NOT NULL DEFAULT 0,
  `value` varchar(255) NULL DEFAULT NULL,
  PRIMARY KEY (`value_id`),
  UNIQUE KEY `CUSTOMER_ENTITY_VARCHAR_ENTITY_ID_ATTRIBUTE_ID` (`entity_id`, `attribute_id`),
  KEY `CUSTOMER_ENTITY_VARCHAR_ATTRIBUTE_ID` (`attribute_id`),
  KEY `CUSTOMER_ENTITY_VARCHAR_ENTITY_ID_ATTRIBUTE_ID_VALUE` (`entity_id`, `attribute_id`, `value`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Customer/etc/db_schema.xml
CREATE TABLE `customer_entity_datetime` (
  `value_id` int(11) NOT NULL AUTO_INCREMENT,
  `attribute_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `entity_id` int(10) unsigned NOT NULL DEFAULT 0,
  `value` datetime NULL DEFAULT NULL,
  PRIMARY KEY (`value_id`),
  UNIQUE KEY `CUSTOMER_ENTITY_DATETIME_ENTITY_ID_ATTRIBUTE_ID` (`entity_id`, `attribute_id`),
  KEY `CUSTOMER_ENTITY_DATETIME_ATTRIBUTE_ID` (`attribute_id`),
  KEY `CUSTOMER_ENTITY_DATETIME_ENTITY_ID_ATTRIBUTE_ID_VALUE` (`entity_id`, `attribute_id`, `value`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Customer/etc/db_schema.xml
CREATE TABLE `customer_entity_decimal` (
  `value_id` int(11) NOT NULL AUTO_INCREMENT,
  `attribute_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `entity_id` int(10) unsigned NOT NULL DEFAULT 0,
  `value` decimal(12,4) NOT NULL DEFAULT 0,
  PRIMARY KEY (`value_id`),
  UNIQUE KEY `CUSTOMER_ENTITY_DECIMAL_ENTITY_ID_ATTRIBUTE_ID` (`entity_id`, `attribute_id`),
  KEY `CUSTOMER_ENTITY_DECIMAL_ATTRIBUTE_ID` (`attribute_id`),
  KEY `CUSTOMER_ENTITY_DECIMAL_ENTITY_ID_ATTRIBUTE_ID_VALUE` (`entity_id`, `attribute_id`, `value`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Customer/etc/db_schema.xml
CREATE TABLE `customer_entity_text` (
  `value_id` int(11) NOT NULL AUTO_INCREMENT,
  `attribute_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `entity_id` int(10) unsigned NOT NULL DEFAULT 0,
  `value` text NOT NULL,
  PRIMARY KEY (`value_id`),
  UNIQUE KEY `CUSTOMER_ENTITY_TEXT_ENTITY_ID_ATTRIBUTE_ID` (`entity_id`, `attribute_id`),
  KEY `CUSTOMER_ENTITY_TEXT_ATTRIBUTE_ID` (`attribute_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Customer/etc/db_schema.xml
CREATE TABLE `customer_address_entity` (
  `entity_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `increment_id` varchar(50) NULL DEFAULT NULL,
  `parent_id` int(10) unsigned NULL DEFAULT NULL,
  `created_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `updated_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  `is_active` smallint(5) unsigned NOT NULL DEFAULT 1,
  `city` varchar(255) NOT NULL,
  `company` varchar(255) NULL DEFAULT NULL,
  `country_id` varchar(255) NOT NULL,
  `fax` varchar(255) NULL DEFAULT NULL,
  `firstname` varchar(255) NOT NULL,
  `lastname` varchar(255) NOT NULL,
  `middlename` varchar(255) NULL DEFAULT NULL,
  `postcode` varchar(255) NULL DEFAULT NULL,
  `prefix` varchar(40) NULL DEFAULT NULL,
  `region` varchar(255) NULL DEFAULT NULL,
  `region_id` int(10) unsigned NULL DEFAULT NULL,
  `street` text NOT NULL,
  `suffix` varchar(40) NULL DEFAULT NULL,
  `telephone` varchar(255) NOT NULL,
  `vat_id` varchar(255) NULL DEFAULT NULL,
  `vat_is_valid` int(10) unsigned NULL DEFAULT NULL,
  `vat_request_date` varchar(255) NULL DEFAULT NULL,
  `vat_request_id` varchar(255) NULL DEFAULT NULL,
  `vat_request_success` int(10) unsigned NULL DEFAULT NULL,
  PRIMARY KEY (`entity_id`),
  KEY `CUSTOMER_ADDRESS_ENTITY_PARENT_ID` (`parent_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Customer/etc/db_schema.xml
CREATE TABLE `customer_address_entity_int` (
  `value_id` int(11) NOT NULL AUTO_INCREMENT,
  `attribute_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `entity_id` int(10) unsigned NOT NULL DEFAULT 0,
  `value` int(11) NOT NULL DEFAULT 0,
  PRIMARY KEY (`value_id`),
  UNIQUE KEY `CUSTOMER_ADDRESS_ENTITY_INT_ENTITY_ID_ATTRIBUTE_ID` (`entity_id`, `attribute_id`),
  KEY `CUSTOMER_ADDRESS_ENTITY_INT_ATTRIBUTE_ID` (`attribute_id`),
  KEY `CUSTOMER_ADDRESS_ENTITY_INT_ENTITY_ID_ATTRIBUTE_ID_VALUE` (`entity_id`, `attribute_id`, `value`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Customer/etc/db_schema.xml
CREATE TABLE `customer_address_entity_varchar` (
  `value_id` int(11) NOT NULL AUTO_INCREMENT,
  `attribute_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `entity_id` int(10) unsigned NOT NULL DEFAULT 0,
  `value` varchar(255) NULL DEFAULT NULL,
  PRIMARY KEY (`value_id`),
  UNIQUE KEY `CUSTOMER_ADDRESS_ENTITY_VARCHAR_ENTITY_ID_ATTRIBUTE_ID` (`entity_id`, `attribute_id`),
  KEY `CUSTOMER_ADDRESS_ENTITY_VARCHAR_ATTRIBUTE_ID` (`attribute_id`),
  KEY `CUSTOMER_ADDRESS_ENTITY_VARCHAR_ENTITY_ID_ATTRIBUTE_ID_VALUE` (`entity_id`, `attribute_id`, `value`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Customer/etc/db_schema.xml
CREATE TABLE `customer_log` (
  `log_id` int(11) NOT NULL AUTO_INCREMENT,
  `customer_id` int(11) NOT NULL,
  `last_login_at` timestamp NULL DEFAULT NULL,
  `last_logout_at` timestamp NULL DEFAULT NULL,
  PRIMARY KEY (`log_id`),
  UNIQUE KEY `CUSTOMER_LOG_CUSTOMER_ID` (`customer_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Newsletter/etc/db_schema.xml
CREATE TABLE `newsletter_subscriber` (
  `subscriber_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `store_id` smallint(5) unsigned NULL DEFAULT 0,
  `change_status_at` timestamp NULL DEFAULT NULL,
  `customer_id` int(10) unsigned NOT NULL DEFAULT 0,
  `subscriber_email` varchar(150) NULL DEFAULT NULL,
  `subscriber_status` int(11) NOT NULL DEFAULT 0,
  `subscriber_confirm_code` varchar(32) NULL DEFAULT NULL,
  PRIMARY KEY (`subscriber_id`),
  KEY `NEWSLETTER_SUBSCRIBER_CUSTOMER_ID` (`customer_id`),
  KEY `NEWSLETTER_SUBSCRIBER_STORE_ID` (`store_id`),
  KEY `NEWSLETTER_SUBSCRIBER_SUBSCRIBER_EMAIL` (`subscriber_email`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Catalog/etc/db_schema.xml
CREATE TABLE `catalog_product_entity` (
  `entity_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `attribute_set_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `type_id` varchar(32) NOT NULL DEFAULT 'simple',
  `sku` varchar(64) NOT NULL,
  `has_options` smallint(6) NOT NULL DEFAULT 0,
  `required_options` smallint(5) unsigned NOT NULL DEFAULT 0,
  `created_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `updated_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (`entity_id`),
  KEY `CATALOG_PRODUCT_ENTITY_ATTRIBUTE_SET_ID` (`attribute_set_id`),
  KEY `CATALOG_PRODUCT_ENTITY_SKU` (`sku`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Catalog/etc/db_schema.xml
CREATE TABLE `catalog_product_entity_int` (
  `value_id` int(11) NOT NULL AUTO_INCREMENT,
  `attribute_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `store_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `entity_id` int(10) unsigned NOT NULL DEFAULT 0,
  `value` int(11) NULL DEFAULT NULL,
  PRIMARY KEY (`value_id`),
  UNIQUE KEY `CATALOG_PRODUCT_ENTITY_INT_ENTITY_ID_ATTRIBUTE_ID_STORE_ID` (`entity_id`, `attribute_id`, `store_id`),
  KEY `CATALOG_PRODUCT_ENTITY_INT_ATTRIBUTE_ID` (`attribute_id`),
  KEY `CATALOG_PRODUCT_ENTITY_INT_STORE_ID` (`store_id`),
  KEY `CATALOG_PRODUCT_ENTITY_INT_ATTRIBUTE_ID_STORE_ID_VALUE` (`attribute_id`, `store_id`, `value`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Catalog/etc/db_schema.xml
CREATE TABLE `catalog_product_entity_varchar` (
  `value_id` int(11) NOT NULL AUTO_INCREMENT,
  `attribute_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `store_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `entity_id` int(10) unsigned NOT NULL DEFAULT 0,
  `value` varchar(255) NULL DEFAULT NULL,
  PRIMARY KEY (`value_id`),
  UNIQUE KEY `CATALOG_PRODUCT_ENTITY_VARCHAR_ENTITY_ID_ATTRIBUTE_ID_STORE_ID` (`entity_id`, `attribute_id`, `store_id`),
  KEY `CATALOG_PRODUCT_ENTITY_VARCHAR_ATTRIBUTE_ID` (`attribute_id`),
  KEY `CATALOG_PRODUCT_ENTITY_VARCHAR_STORE_ID` (`store_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Catalog/etc/db_schema.xml
CREATE TABLE `catalog_product_entity_decimal` (
  `value_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `attribute_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `store_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `entity_id` int(10) unsigned NOT NULL DEFAULT 0,
  `value` decimal(20,6) NULL DEFAULT NULL,
  PRIMARY KEY (`value_id`),
  UNIQUE KEY `CATALOG_PRODUCT_ENTITY_DECIMAL_ENTITY_ID_ATTRIBUTE_ID_STORE_ID` (`entity_id`, `attribute_id`, `store_id`),
  KEY `CATALOG_PRODUCT_ENTITY_DECIMAL_STORE_ID` (`store_id`),
  KEY `CATALOG_PRODUCT_ENTITY_DECIMAL_ATTRIBUTE_ID` (`attribute_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Catalog/etc/db_schema.xml
CREATE TABLE `catalog_product_entity_text` (
  `value_id` int(11) NOT NULL AUTO_INCREMENT,
  `attribute_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `store_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `entity_id` int(10) unsigned NOT NULL DEFAULT 0,
  `value` mediumtext NULL DEFAULT NULL,
  PRIMARY KEY (`value_id`),
  UNIQUE KEY `CATALOG_PRODUCT_ENTITY_TEXT_ENTITY_ID_ATTRIBUTE_ID_STORE_ID` (`entity_id`, `attribute_id`, `store_id`),
  KEY `CATALOG_PRODUCT_ENTITY_TEXT_ATTRIBUTE_ID` (`attribute_id`),
  KEY `CATALOG_PRODUCT_ENTITY_TEXT_STORE_ID` (`store_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Catalog/etc/db_schema.xml
CREATE TABLE `catalog_product_entity_datetime` (
  `value_id` int(11) NOT NULL AUTO_INCREMENT,
  `attribute_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `store_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `entity_id` int(10) unsigned NOT NULL DEFAULT 0,
  `value` datetime NULL DEFAULT NULL,
  PRIMARY KEY (`value_id`),
  UNIQUE KEY `CATALOG_PRODUCT_ENTITY_DATETIME_ENTITY_ID_ATTRIBUTE_ID_STORE_ID` (`entity_id`, `attribute_id`, `store_id`),
  KEY `CATALOG_PRODUCT_ENTITY_DATETIME_ATTRIBUTE_ID` (`attribute_id`),
  KEY `CATALOG_PRODUCT_ENTITY_DATETIME_STORE_ID` (`store_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Catalog/etc/db_schema.xml
CREATE TABLE `catalog_category_product` (
  `entity_id` int(11) NOT NULL AUTO_INCREMENT,
  `category_id` int(10) unsigned NOT NULL DEFAULT 0,
  `product_id` int(10) unsigned NOT NULL DEFAULT 0,
  `position` int(11) NOT NULL DEFAULT 0,
  PRIMARY KEY (`entity_id`, `category_id`, `product_id`),
  UNIQUE KEY `CATALOG_CATEGORY_PRODUCT_CATEGORY_ID_PRODUCT_ID` (`category_id`, `product_id`),
  KEY `CATALOG_CATEGORY_PRODUCT_PRODUCT_ID` (`product_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Sales/etc/db_schema.xml (column subset)
CREATE TABLE `sales_order` (
  `entity_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `state` varchar(32) NULL DEFAULT NULL,
  `status` varchar(32) NULL DEFAULT NULL,
  `store_id` smallint(5) unsigned NULL DEFAULT NULL,
  `customer_id` int(10) unsigned NULL DEFAULT NULL,
  `base_discount_amount` decimal(20,4) NULL DEFAULT NULL,
  `base_grand_total` decimal(20,4) NULL DEFAULT NULL,
  `base_shipping_amount` decimal(20,4) NULL DEFAULT NULL,
  `base_subtotal` decimal(20,4) NULL DEFAULT NULL,
  `base_tax_amount` decimal(20,4) NULL DEFAULT NULL,
  `grand_total` decimal(20,4) NULL DEFAULT NULL,
  `subtotal` decimal(20,4) NULL DEFAULT NULL,
  `total_qty_ordered` decimal(12,4) NULL DEFAULT NULL,
  `customer_is_guest` smallint(5) unsigned NULL DEFAULT NULL,
  `customer_group_id` int(11) NULL DEFAULT NULL,
  `increment_id` varchar(50) NULL DEFAULT NULL,
  `base_currency_code` varchar(3) NULL DEFAULT NULL,
  `customer_email` varchar(128) NULL DEFAULT NULL,
  `order_currency_code` varchar(3) NULL DEFAULT NULL,
  `created_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `updated_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (`entity_id`),
  UNIQUE KEY `SALES_ORDER_INCREMENT_ID_STORE_ID` (`increment_id`, `store_id`),
  KEY `SALES_ORDER_STATUS` (`status`),
  KEY `SALES_ORDER_STATE` (`state`),
  KEY `SALES_ORDER_STORE_ID` (`store_id`),
  KEY `SALES_ORDER_CREATED_AT` (`created_at`),
  KEY `SALES_ORDER_CUSTOMER_ID` (`customer_id`),
  KEY `SALES_ORDER_UPDATED_AT` (`updated_at`),
  KEY `SALES_ORDER_STORE_STATE_CREATED` (`store_id`, `state`, `created_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Sales/etc/db_schema.xml (column subset)
CREATE TABLE `sales_order_item` (
  `item_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `order_id` int(10) unsigned NOT NULL DEFAULT 0,
  `parent_item_id` int(10) unsigned NULL DEFAULT NULL,
  `quote_item_id` int(10) unsigned NULL DEFAULT NULL,
  `store_id` smallint(5) unsigned NULL DEFAULT NULL,
  `created_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `updated_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  `product_id` int(10) unsigned NULL DEFAULT NULL,
  `product_type` varchar(255) NULL DEFAULT NULL,
  `sku` varchar(255) NULL DEFAULT NULL,
  `name` varchar(255) NULL DEFAULT NULL,
  `qty_ordered` decimal(12,4) NULL DEFAULT 0,
  `price` decimal(20,4) NOT NULL DEFAULT 0,
  `base_price` decimal(20,4) NOT NULL DEFAULT 0,
  `row_total` decimal(20,4) NOT NULL DEFAULT 0,
  `base_row_total` decimal(20,4) NOT NULL DEFAULT 0,
  PRIMARY KEY (`item_id`),
  KEY `SALES_ORDER_ITEM_ORDER_ID` (`order_id`),
  KEY `SALES_ORDER_ITEM_STORE_ID` (`store_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Sales/etc/db_schema.xml (column subset)
CREATE TABLE `sales_order_address` (
  `entity_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `parent_id` int(10) unsigned NULL DEFAULT NULL,
  `customer_address_id` int(11) NULL DEFAULT NULL,
  `quote_address_id` int(11) NULL DEFAULT NULL,
  `region_id` int(11) NULL DEFAULT NULL,
  `customer_id` int(11) NULL DEFAULT NULL,
  `region` varchar(255) NULL DEFAULT NULL,
  `postcode` varchar(255) NULL DEFAULT NULL,
  `lastname` varchar(255) NULL DEFAULT NULL,
  `street` varchar(255) NULL DEFAULT NULL,
  `city` varchar(255) NULL DEFAULT NULL,
  `email` varchar(255) NULL DEFAULT NULL,
  `telephone` varchar(255) NULL DEFAULT NULL,
  `country_id` varchar(2) NULL DEFAULT NULL,
  `firstname` varchar(255) NULL DEFAULT NULL,
  `address_type` varchar(255) NULL DEFAULT NULL,
  `prefix` varchar(255) NULL DEFAULT NULL,
  `middlename` varchar(255) NULL DEFAULT NULL,
  `suffix` varchar(255) NULL DEFAULT NULL,
  `company` varchar(255) NULL DEFAULT NULL,
  PRIMARY KEY (`entity_id`),
  KEY `SALES_ORDER_ADDRESS_PARENT_ID` (`parent_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Quote/etc/db_schema.xml (column subset)
-- + Commerce (not public upstream) CustomerBalance/etc/db_schema.xml: base_customer_bal_amount_used, GiftCardAccount/etc/db_schema.xml: base_gift_cards_amount_used (Adobe Commerce 2.4.6-p1 as vendored in github.com/caiced2/magento246, commit 62d6aeb7416264384f498f4cff70fb919794365f); both are decimal(20,4) NULL there
CREATE TABLE `quote` (
  `entity_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `store_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `created_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `updated_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  `is_active` smallint(5) unsigned NULL DEFAULT 1,
  `items_count` int(10) unsigned NULL DEFAULT 0,
  `items_qty` decimal(12,4) NULL DEFAULT 0,
  `base_currency_code` varchar(255) NULL DEFAULT NULL,
  `quote_currency_code` varchar(255) NULL DEFAULT NULL,
  `grand_total` decimal(20,4) NULL DEFAULT 0,
  `base_grand_total` decimal(20,4) NULL DEFAULT 0,
  `customer_id` int(10) unsigned NULL DEFAULT NULL,
  `customer_email` varchar(255) NULL DEFAULT NULL,
  `customer_is_guest` smallint(5) unsigned NULL DEFAULT 0,
  `subtotal` decimal(20,4) NULL DEFAULT NULL,
  `base_subtotal` decimal(20,4) NULL DEFAULT NULL,
  `base_customer_bal_amount_used` decimal(20,4) NULL DEFAULT NULL,
  `base_gift_cards_amount_used` decimal(20,4) NULL DEFAULT NULL,
  PRIMARY KEY (`entity_id`),
  KEY `QUOTE_CUSTOMER_ID_STORE_ID_IS_ACTIVE` (`customer_id`, `store_id`, `is_active`),
  KEY `QUOTE_STORE_ID_UPDATED_AT` (`store_id`, `updated_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Quote/etc/db_schema.xml (column subset)
CREATE TABLE `quote_item` (
  `item_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `quote_id` int(10) unsigned NOT NULL DEFAULT 0,
  `created_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `updated_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  `product_id` int(10) unsigned NULL DEFAULT NULL,
  `store_id` smallint(5) unsigned NULL DEFAULT NULL,
  `parent_item_id` int(10) unsigned NULL DEFAULT NULL,
  `sku` varchar(255) NULL DEFAULT NULL,
  `name` varchar(255) NULL DEFAULT NULL,
  `qty` decimal(12,4) NOT NULL DEFAULT 0,
  `price` decimal(20,4) NOT NULL DEFAULT 0,
  `base_price` decimal(20,4) NOT NULL DEFAULT 0,
  `row_total` decimal(20,4) NOT NULL DEFAULT 0,
  `base_row_total` decimal(20,4) NOT NULL DEFAULT 0,
  `product_type` varchar(255) NULL DEFAULT NULL,
  PRIMARY KEY (`item_id`),
  KEY `QUOTE_ITEM_PARENT_ITEM_ID` (`parent_item_id`),
  KEY `QUOTE_ITEM_PRODUCT_ID` (`product_id`),
  KEY `QUOTE_ITEM_QUOTE_ID` (`quote_id`),
  KEY `QUOTE_ITEM_STORE_ID` (`store_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Quote/etc/db_schema.xml (column subset)
CREATE TABLE `quote_address` (
  `address_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `quote_id` int(10) unsigned NOT NULL DEFAULT 0,
  `created_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `updated_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  `customer_id` int(10) unsigned NULL DEFAULT NULL,
  `address_type` varchar(10) NULL DEFAULT NULL,
  `tax_amount` decimal(20,4) NOT NULL DEFAULT 0,
  `base_tax_amount` decimal(20,4) NOT NULL DEFAULT 0,
  `shipping_amount` decimal(20,4) NOT NULL DEFAULT 0,
  `base_shipping_amount` decimal(20,4) NOT NULL DEFAULT 0,
  PRIMARY KEY (`address_id`),
  KEY `QUOTE_ADDRESS_QUOTE_ID` (`quote_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Wishlist/etc/db_schema.xml
CREATE TABLE `wishlist` (
  `wishlist_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `customer_id` int(10) unsigned NOT NULL DEFAULT 0,
  `shared` smallint(5) unsigned NOT NULL DEFAULT 0,
  `sharing_code` varchar(32) NULL DEFAULT NULL,
  `updated_at` timestamp NULL DEFAULT NULL,
  PRIMARY KEY (`wishlist_id`),
  UNIQUE KEY `WISHLIST_CUSTOMER_ID` (`customer_id`),
  KEY `WISHLIST_SHARED` (`shared`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Wishlist/etc/db_schema.xml
CREATE TABLE `wishlist_item` (
  `wishlist_item_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `wishlist_id` int(10) unsigned NOT NULL DEFAULT 0,
  `product_id` int(10) unsigned NOT NULL DEFAULT 0,
  `store_id` smallint(5) unsigned NULL DEFAULT NULL,
  `added_at` timestamp NULL DEFAULT NULL,
  `description` text NULL DEFAULT NULL,
  `qty` decimal(12,4) NOT NULL,
  PRIMARY KEY (`wishlist_item_id`),
  KEY `WISHLIST_ITEM_WISHLIST_ID` (`wishlist_id`),
  KEY `WISHLIST_ITEM_PRODUCT_ID` (`product_id`),
  KEY `WISHLIST_ITEM_STORE_ID` (`store_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Reports/etc/db_schema.xml
CREATE TABLE `report_viewed_product_index` (
  `index_id` bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  `visitor_id` int(10) unsigned NULL DEFAULT NULL,
  `customer_id` int(10) unsigned NULL DEFAULT NULL,
  `product_id` int(10) unsigned NOT NULL,
  `store_id` smallint(5) unsigned NULL DEFAULT NULL,
  `added_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (`index_id`),
  UNIQUE KEY `REPORT_VIEWED_PRODUCT_INDEX_VISITOR_ID_PRODUCT_ID` (`visitor_id`, `product_id`),
  UNIQUE KEY `REPORT_VIEWED_PRODUCT_INDEX_CUSTOMER_ID_PRODUCT_ID` (`customer_id`, `product_id`),
  KEY `REPORT_VIEWED_PRODUCT_INDEX_STORE_ID` (`store_id`),
  KEY `REPORT_VIEWED_PRODUCT_INDEX_ADDED_AT` (`added_at`),
  KEY `REPORT_VIEWED_PRODUCT_INDEX_PRODUCT_ID` (`product_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Commerce (not public): from documentation
-- CustomerBalance/etc/db_schema.xml: transcribed from Adobe Commerce 2.4.6-p1 vendor/magento/module-customer-balance/etc/db_schema.xml as vendored in github.com/caiced2/magento246 (commit 62d6aeb7416264384f498f4cff70fb919794365f)
CREATE TABLE `magento_customerbalance` (
  `balance_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `customer_id` int(10) unsigned NOT NULL DEFAULT 0,
  `website_id` smallint(5) unsigned NULL DEFAULT NULL,
  `amount` decimal(20,4) NOT NULL DEFAULT 0,
  `base_currency_code` varchar(3) NULL DEFAULT NULL,
  PRIMARY KEY (`balance_id`),
  UNIQUE KEY `MAGENTO_CUSTOMERBALANCE_CUSTOMER_ID_WEBSITE_ID` (`customer_id`, `website_id`),
  KEY `MAGENTO_CUSTOMERBALANCE_WEBSITE_ID` (`website_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Commerce (not public): from documentation
-- CustomerSegment/etc/db_schema.xml: transcribed from Adobe Commerce 2.4.6-p1 vendor/magento/module-customer-segment/etc/db_schema.xml as vendored in github.com/caiced2/magento246 (commit 62d6aeb7416264384f498f4cff70fb919794365f)
CREATE TABLE `magento_customersegment_segment` (
  `segment_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `name` varchar(255) NULL DEFAULT NULL,
  `description` text NULL DEFAULT NULL,
  `is_active` smallint(6) NOT NULL DEFAULT 0,
  `conditions_serialized` mediumtext NULL DEFAULT NULL,
  `processing_frequency` int(11) NOT NULL,
  `condition_sql` mediumtext NULL DEFAULT NULL,
  `apply_to` smallint(5) unsigned NOT NULL DEFAULT 0,
  PRIMARY KEY (`segment_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Commerce (not public): from documentation
-- CustomerSegment/etc/db_schema.xml: transcribed from Adobe Commerce 2.4.6-p1 vendor/magento/module-customer-segment/etc/db_schema.xml as vendored in github.com/caiced2/magento246 (commit 62d6aeb7416264384f498f4cff70fb919794365f)
CREATE TABLE `magento_customersegment_website` (
  `segment_id` int(10) unsigned NOT NULL,
  `website_id` smallint(5) unsigned NOT NULL,
  PRIMARY KEY (`segment_id`, `website_id`),
  KEY `MAGENTO_CUSTOMERSEGMENT_WEBSITE_WEBSITE_ID` (`website_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Commerce (not public): from documentation
-- CustomerSegment/etc/db_schema.xml: transcribed from Adobe Commerce 2.4.6-p1 vendor/magento/module-customer-segment/etc/db_schema.xml as vendored in github.com/caiced2/magento246 (commit 62d6aeb7416264384f498f4cff70fb919794365f)
CREATE TABLE `magento_customersegment_customer` (
  `segment_id` int(10) unsigned NOT NULL,
  `customer_id` int(10) unsigned NOT NULL,
  `added_date` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `updated_date` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  `website_id` smallint(5) unsigned NOT NULL,
  PRIMARY KEY (`segment_id`, `customer_id`, `website_id`),
  UNIQUE KEY `MAGENTO_CSTRSEGMENT_CSTR_SEGMENT_ID_WS_ID_CSTR_ID` (`segment_id`, `website_id`, `customer_id`),
  KEY `MAGENTO_CUSTOMERSEGMENT_CUSTOMER_WEBSITE_ID` (`website_id`),
  KEY `MAGENTO_CUSTOMERSEGMENT_CUSTOMER_CUSTOMER_ID` (`customer_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
