// Generated from sdks/fixtures/form-rules.json by `npm run generate:forms`: do not edit.
// The storage-free rules of the forms, as the server applies them (see the table's `about`).

export const FORM_RULES = {
  "whitespace": [
    [
      9,
      13
    ],
    [
      32,
      32
    ],
    [
      133,
      133
    ],
    [
      160,
      160
    ],
    [
      5760,
      5760
    ],
    [
      8192,
      8202
    ],
    [
      8232,
      8233
    ],
    [
      8239,
      8239
    ],
    [
      8287,
      8287
    ],
    [
      12288,
      12288
    ]
  ],
  "control": [
    [
      0,
      31
    ],
    [
      127,
      159
    ]
  ],
  "multiline_allows": [
    9,
    10,
    13
  ],
  "max_unknown_listed": 20,
  "values": {
    "email": {
      "max_chars": 254,
      "max_local_bytes": 64,
      "max_label_bytes": 63,
      "local_symbols": "!#$%&'*+-/=?^_`{|}~."
    },
    "permissions": {
      "names": [
        "engage:view",
        "engage:create",
        "engage:edit",
        "engage:delete",
        "intake:view",
        "intake:create",
        "intake:edit",
        "intake:delete",
        "investigations:view",
        "investigations:create",
        "investigations:edit",
        "investigations:delete",
        "placements:view",
        "placements:create",
        "placements:edit",
        "placements:delete",
        "providers:view",
        "providers:create",
        "providers:edit",
        "providers:delete",
        "admin:view",
        "admin:create",
        "admin:edit",
        "admin:delete",
        "tenants:view",
        "tenants:create",
        "tenants:edit",
        "tenants:delete"
      ],
      "syntax": "a permission is written module:action, with module one of engage, intake, investigations, placements, providers, admin, tenants and action one of view, create, edit, delete"
    }
  },
  "forms": {
    "CaseForm": {
      "fields": [
        {
          "name": "title",
          "kind": "text",
          "presence": "required",
          "text": {
            "max_chars": 200,
            "multiline": false,
            "blank": "refused"
          }
        },
        {
          "name": "description",
          "kind": "text",
          "presence": "optional",
          "text": {
            "max_chars": 10000,
            "multiline": true,
            "blank": "absent"
          }
        },
        {
          "name": "status",
          "kind": {
            "choice": [
              "open",
              "closed"
            ]
          },
          "presence": "optional"
        }
      ]
    },
    "CaseChange": {
      "fields": [
        {
          "name": "title",
          "kind": "text",
          "presence": "optional",
          "text": {
            "max_chars": 200,
            "multiline": false,
            "blank": "refused"
          }
        },
        {
          "name": "description",
          "kind": "text",
          "presence": "clearable",
          "text": {
            "max_chars": 10000,
            "multiline": true,
            "blank": "absent"
          }
        },
        {
          "name": "status",
          "kind": {
            "choice": [
              "open",
              "closed"
            ]
          },
          "presence": "optional"
        }
      ]
    },
    "ReportForm": {
      "fields": [
        {
          "name": "summary",
          "kind": "text",
          "presence": "required",
          "text": {
            "max_chars": 200,
            "multiline": false,
            "blank": "refused"
          }
        },
        {
          "name": "details",
          "kind": "text",
          "presence": "optional",
          "text": {
            "max_chars": 10000,
            "multiline": true,
            "blank": "absent"
          }
        }
      ]
    },
    "ReportChange": {
      "fields": [
        {
          "name": "summary",
          "kind": "text",
          "presence": "optional",
          "text": {
            "max_chars": 200,
            "multiline": false,
            "blank": "refused"
          }
        },
        {
          "name": "details",
          "kind": "text",
          "presence": "clearable",
          "text": {
            "max_chars": 10000,
            "multiline": true,
            "blank": "absent"
          }
        }
      ]
    },
    "RoleForm": {
      "fields": [
        {
          "name": "name",
          "kind": "text",
          "presence": "required",
          "text": {
            "max_chars": 100,
            "multiline": false,
            "blank": "refused"
          }
        },
        {
          "name": "permissions",
          "kind": "text_list",
          "presence": "required",
          "value": "permissions"
        }
      ]
    },
    "RoleChange": {
      "fields": [
        {
          "name": "name",
          "kind": "text",
          "presence": "optional",
          "text": {
            "max_chars": 100,
            "multiline": false,
            "blank": "refused"
          }
        },
        {
          "name": "permissions",
          "kind": "text_list",
          "presence": "optional",
          "value": "permissions"
        }
      ]
    },
    "UserForm": {
      "fields": [
        {
          "name": "email",
          "kind": "text",
          "presence": "required",
          "value": "email"
        },
        {
          "name": "name",
          "kind": "text",
          "presence": "required",
          "text": {
            "max_chars": 100,
            "multiline": false,
            "blank": "refused"
          }
        },
        {
          "name": "password",
          "kind": "text",
          "presence": "optional"
        },
        {
          "name": "roles",
          "kind": "text_list",
          "presence": "optional"
        }
      ]
    },
    "UserChange": {
      "fields": [
        {
          "name": "email",
          "kind": "text",
          "presence": "optional",
          "value": "email"
        },
        {
          "name": "name",
          "kind": "text",
          "presence": "optional",
          "text": {
            "max_chars": 100,
            "multiline": false,
            "blank": "refused"
          }
        },
        {
          "name": "password",
          "kind": "text",
          "presence": "optional"
        },
        {
          "name": "roles",
          "kind": "text_list",
          "presence": "optional"
        },
        {
          "name": "enabled",
          "kind": "boolean",
          "presence": "optional"
        }
      ]
    },
    "ApplicationForm": {
      "fields": [
        {
          "name": "name",
          "kind": "text",
          "presence": "required",
          "text": {
            "max_chars": 100,
            "multiline": false,
            "blank": "refused"
          }
        },
        {
          "name": "email",
          "kind": "text",
          "presence": "required",
          "value": "email"
        },
        {
          "name": "application_url",
          "kind": "text",
          "presence": "optional"
        },
        {
          "name": "roles",
          "kind": "text_list",
          "presence": "required"
        },
        {
          "name": "description",
          "kind": "text",
          "presence": "optional",
          "text": {
            "max_chars": 1000,
            "multiline": true,
            "blank": "absent"
          }
        },
        {
          "name": "allowed_sources",
          "kind": "text_list",
          "presence": "optional"
        },
        {
          "name": "token_quota_per_hour",
          "kind": "integer",
          "presence": "optional"
        },
        {
          "name": "dpop_bound_access_tokens",
          "kind": "boolean",
          "presence": "optional"
        },
        {
          "name": "token_endpoint_auth_method",
          "kind": "text",
          "presence": "optional"
        },
        {
          "name": "jwks",
          "kind": "object",
          "presence": "optional"
        },
        {
          "name": "jwks_uri",
          "kind": "text",
          "presence": "optional"
        }
      ]
    },
    "ApplicationChange": {
      "fields": [
        {
          "name": "name",
          "kind": "text",
          "presence": "optional",
          "text": {
            "max_chars": 100,
            "multiline": false,
            "blank": "refused"
          }
        },
        {
          "name": "email",
          "kind": "text",
          "presence": "optional",
          "value": "email"
        },
        {
          "name": "application_url",
          "kind": "text",
          "presence": "clearable"
        },
        {
          "name": "roles",
          "kind": "text_list",
          "presence": "optional"
        },
        {
          "name": "description",
          "kind": "text",
          "presence": "clearable",
          "text": {
            "max_chars": 1000,
            "multiline": true,
            "blank": "absent"
          }
        },
        {
          "name": "enabled",
          "kind": "boolean",
          "presence": "optional"
        },
        {
          "name": "allowed_sources",
          "kind": "text_list",
          "presence": "clearable"
        },
        {
          "name": "token_quota_per_hour",
          "kind": "integer",
          "presence": "clearable"
        },
        {
          "name": "dpop_bound_access_tokens",
          "kind": "boolean",
          "presence": "optional"
        },
        {
          "name": "token_endpoint_auth_method",
          "kind": "text",
          "presence": "optional"
        },
        {
          "name": "jwks",
          "kind": "object",
          "presence": "optional"
        },
        {
          "name": "jwks_uri",
          "kind": "text",
          "presence": "optional"
        }
      ]
    },
    "FederatedCredentialForm": {
      "fields": [
        {
          "name": "name",
          "kind": "text",
          "presence": "required",
          "text": {
            "max_chars": 100,
            "multiline": false,
            "blank": "refused"
          }
        },
        {
          "name": "issuer",
          "kind": "text",
          "presence": "required",
          "text": {
            "max_chars": 2048,
            "multiline": false,
            "blank": "refused"
          }
        },
        {
          "name": "jwks",
          "kind": "object",
          "presence": "optional"
        },
        {
          "name": "jwks_uri",
          "kind": "text",
          "presence": "optional"
        },
        {
          "name": "subject",
          "kind": "text",
          "presence": "required",
          "text": {
            "max_chars": 1000,
            "multiline": false,
            "blank": "refused"
          }
        },
        {
          "name": "audience",
          "kind": "text",
          "presence": "optional",
          "text": {
            "max_chars": 2048,
            "multiline": false,
            "blank": "absent"
          }
        },
        {
          "name": "claims",
          "kind": "object",
          "presence": "optional"
        },
        {
          "name": "max_token_lifetime_seconds",
          "kind": "integer",
          "presence": "optional"
        },
        {
          "name": "single_use",
          "kind": "boolean",
          "presence": "optional"
        }
      ]
    }
  }
} as const;
