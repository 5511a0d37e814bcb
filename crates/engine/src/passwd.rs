//! The users and groups step, written natively into the target's account
//! databases with the result Debian's `groupadd`/`useradd`/`usermod`/
//! `groupdel`/`userdel --root` (shadow-utils 4.13) produce for the commands
//! Ignition runs (ignition-semantics.md §6.9): id allocation from the target's
//! `login.defs`, user private groups (`USERGROUPS_ENAB`), `/etc/default/useradd`
//! defaults, home directories with a copy of the skeleton, and SSH key
//! fragments (§6.10). Results depend only on the target root, never on the
//! host's shadow-utils defaults.
//!
//! Known, deliberate differences from running the tools (docs/apply.md):
//! no `/etc/.pwd.lock` and no `passwd-`-style backups are left behind; the
//! skeleton is copied completely (4.13 under `--root` leaves subdirectories
//! empty and 0700); `/etc/passwd` and `/etc/group` are created when missing.

use reignite_spec::{Passwd, PasswdGroup, PasswdUser};

use crate::accounts::{allocate_id, AccountDb, Defs};
use crate::context::{ApplyError, Ctx, IoContext};
use crate::manifest::{AccountAction, GroupRecord, Origin, RecordKind, UserRecord};
mod loginlogs;
mod usermod;
use usermod::{usermod_home, Usermod};

fn err(msg: String) -> ApplyError {
    ApplyError::Accounts(msg)
}

/// What to do to the filesystem once the databases are written.
enum HomeAction {
    Create {
        name: String,
        home: String,
        uid: u32,
        gid: u32,
    },
    Remove {
        name: String,
        uid: String,
        home: String,
    },
    /// What `usermod` does to homes and the mail spool (journalled when
    /// `resumed` is false; completing an interrupted attempt when true).
    Modify { change: Usermod, resumed: bool },
}

/// Runs the users/groups step (groups first, then users, then SSH keys).
pub(crate) fn run(ctx: &mut Ctx<'_>, cfg: &Passwd) -> Result<(), ApplyError> {
    if cfg.users.is_empty() && cfg.groups.is_empty() {
        return Ok(());
    }
    if !rustix::process::geteuid().is_root() {
        // Refused before anything is written: homes, skeleton copies and key
        // files are chowned to the accounts. Ignition fails here too (its
        // account lookups chroot into the target).
        return Err(err(
            "users and groups can only be applied as root: homes and SSH key files \
             are owned by their accounts; run reignite apply as root"
                .to_string(),
        ));
    }
    let defs = Defs::load(ctx.root)?;
    let mut db = AccountDb::load(ctx.root)?;
    let mut homes = Vec::new();
    for g in &cfg.groups {
        let rec = ensure_group(ctx, &mut db, &defs, g)?;
        ctx.event("groups", &g.name, action_name(rec.action));
        ctx.manifest.groups.push(rec);
    }
    for u in &cfg.users {
        let rec = ensure_user(ctx, &mut db, &defs, u, &mut homes)?;
        ctx.event("users", &u.name, action_name(rec.action));
        ctx.manifest.users.push(rec);
    }
    ctx.commit_point()?;
    db.write(ctx.root, ctx.durability)?;
    // Every database the step is responsible for, whether or not this run
    // had to rewrite it (a re-run after an interruption may not).
    for (path, present) in [
        ("/etc/passwd", db.passwd.present),
        ("/etc/shadow", db.shadow.present),
        ("/etc/group", db.group.present),
        ("/etc/gshadow", db.gshadow.present),
    ] {
        if present {
            let resolved = ctx.root.resolve(path)?;
            ctx.record(
                &resolved,
                None,
                RecordKind::File,
                Origin::AccountDatabase,
                false,
                None,
            )?;
        }
    }
    // Group lines as they are at the end (users may have joined groups).
    for g in ctx.manifest.groups.iter_mut() {
        if g.group_line.is_some() {
            g.group_line = db.group.get(&g.name).map(|l| l.join(":"));
            g.gshadow_line = db.gshadow.get(&g.name).map(|l| l.join(":"));
        }
    }
    for h in homes {
        match h {
            HomeAction::Create {
                name,
                home,
                uid,
                gid,
            } => {
                let created = crate::home::create_home(ctx, &defs, &home, uid, gid)?;
                if let Some(u) = ctx.manifest.users.iter_mut().rev().find(|u| u.name == name) {
                    u.home_created = created;
                }
            }
            HomeAction::Remove { name, uid, home } => {
                usermod::remove_mailbox(ctx, &defs, &name, &uid)?;
                let resolved = ctx.root.resolve(&home)?;
                match ctx.root.lstat(&resolved).ctx(|| format!("inspecting {home}"))? {
                    None => continue,
                    Some(st) if st.st_uid.to_string() != uid => {
                        return Err(err(format!(
                            "failed to delete user {name}: userdel: {home} not owned by {name}, not removing"
                        )))
                    }
                    Some(_) => {}
                }
                ctx.commit_point()?;
                ctx.root
                    .remove_all(&resolved)
                    .ctx(|| format!("removing home directory {home}"))?;
            }
            HomeAction::Modify { change, resumed } => change.apply(ctx, &defs, resumed)?,
        }
    }
    ctx.accounts = Some(db);
    for u in &cfg.users {
        if u.should_exist != Some(false) && !u.ssh_authorized_keys.is_empty() {
            crate::ssh::write_keys(ctx, u)?;
        }
    }
    Ok(())
}

fn action_name(a: AccountAction) -> &'static str {
    match a {
        AccountAction::Created => "created",
        AccountAction::Modified => "modified",
        AccountAction::Removed => "removed",
        AccountAction::Absent => "absent",
    }
}

fn to_u32(v: i64, what: &str, name: &str) -> Result<u32, ApplyError> {
    u32::try_from(v).map_err(|_| err(format!("invalid {what} {v} for {name}")))
}

fn ensure_group(
    ctx: &mut Ctx<'_>,
    db: &mut AccountDb,
    defs: &Defs,
    g: &PasswdGroup,
) -> Result<GroupRecord, ApplyError> {
    let key = format!("group:{}", g.name);
    let exists = db.group.get(&g.name).is_some();
    if g.should_exist == Some(false) {
        if !exists {
            return Ok(record_group(db, &g.name, AccountAction::Absent));
        }
        let gid = db.gid_of(&g.name);
        if let Some(user) = db
            .passwd
            .lines
            .iter()
            .find(|l| l.len() >= 7 && gid.is_some_and(|gid| l[3] == gid.to_string()))
        {
            return Err(err(format!(
                "failed to delete group {}: groupdel: cannot remove the primary group of user '{}'",
                g.name, user[0]
            )));
        }
        db.group.remove(&g.name);
        db.gshadow.remove(&g.name);
        return Ok(record_group(db, &g.name, AccountAction::Removed));
    }
    let gid_cfg = g.gid.map(|v| to_u32(v, "gid", &g.name)).transpose()?;
    if exists {
        // groupmod --gid N --password H (Ignition ≥ 2.25, #2158).
        if let Some(gid) = gid_cfg {
            if db
                .group
                .get(&g.name)
                .is_some_and(|l| l[2] != gid.to_string())
                && db.used_gids().contains(&gid)
            {
                return Err(err(format!(
                    "failed to modify group {}: groupmod: GID '{gid}' already exists",
                    g.name
                )));
            }
            let old = db.group.get(&g.name).map(|l| l[2].clone());
            if let Some(l) = db.group.get_mut(&g.name) {
                l[2] = gid.to_string();
            }
            // groupmod also moves the users whose primary group it was
            // (`update_primary_groups`); their files keep the old gid.
            if let Some(old) = old.filter(|o| *o != gid.to_string()) {
                let mut changed = false;
                for l in db.passwd.lines.iter_mut().filter(|l| l.len() >= 7) {
                    if l[3] == old {
                        l[3] = gid.to_string();
                        changed = true;
                    }
                }
                db.passwd.dirty |= changed;
            }
        }
        if let Some(h) = &g.password_hash {
            set_group_password(db, &g.name, h);
        }
        let action = if ctx.created_before(&key) {
            AccountAction::Created
        } else {
            AccountAction::Modified
        };
        return Ok(record_group(db, &g.name, action));
    }
    let gid = match gid_cfg {
        Some(gid) => {
            if db.used_gids().contains(&gid) {
                return Err(err(format!(
                    "failed to create group {}: groupadd: GID '{gid}' already exists",
                    g.name
                )));
            }
            gid
        }
        None => allocate_id(
            &db.used_gids(),
            defs.range("GID", g.system == Some(true)),
            g.system == Some(true),
            None,
        )
        .ok_or_else(|| err(format!("failed to create group {}: no free GID", g.name)))?,
    };
    add_group(db, &g.name, gid, g.password_hash.as_deref(), false);
    ctx.note_created(&key)?;
    Ok(record_group(db, &g.name, AccountAction::Created))
}

/// Adds a group as `groupadd` does, or as `useradd` does for a user private
/// group (`user_group`: without gshadow its password field is `!`, not `x`).
fn add_group(db: &mut AccountDb, name: &str, gid: u32, hash: Option<&str>, user_group: bool) {
    let hash = hash.filter(|h| !h.is_empty());
    let gpass = if db.gshadow.present {
        "x".to_string()
    } else if user_group {
        "!".to_string()
    } else {
        hash.unwrap_or("x").to_string()
    };
    db.group
        .upsert(vec![name.into(), gpass, gid.to_string(), String::new()]);
    if db.gshadow.present {
        db.gshadow.upsert(vec![
            name.into(),
            hash.unwrap_or("!").to_string(),
            String::new(),
            String::new(),
        ]);
    }
}

fn set_group_password(db: &mut AccountDb, name: &str, hash: &str) {
    if db.gshadow.present {
        if let Some(l) = db.gshadow.get_mut(name) {
            l[1] = hash.to_string();
            return;
        }
        db.gshadow
            .upsert(vec![name.into(), hash.into(), String::new(), String::new()]);
    } else if let Some(l) = db.group.get_mut(name) {
        l[1] = hash.to_string();
    }
}

fn record_group(db: &AccountDb, name: &str, action: AccountAction) -> GroupRecord {
    let line = db.group.get(name).map(|l| l.join(":"));
    GroupRecord {
        name: name.to_string(),
        action,
        gid: db.group.get(name).and_then(|l| l[2].parse().ok()),
        group_line: line,
        gshadow_line: db.gshadow.get(name).map(|l| l.join(":")),
    }
}

fn resolve_group(db: &AccountDb, spec: &str, user: &str) -> Result<u32, ApplyError> {
    db.gid_of(spec)
        .or_else(|| {
            spec.parse::<u32>()
                .ok()
                .filter(|g| db.used_gids().contains(g))
        })
        .ok_or_else(|| {
            err(format!(
                "failed to create user {user}: useradd: group '{spec}' does not exist"
            ))
        })
}

/// Sets the supplementary groups of `user` to exactly `groups` (usermod -G);
/// with `only_add`, adds without removing (useradd -G).
fn set_memberships(
    db: &mut AccountDb,
    user: &str,
    groups: &[String],
    only_add: bool,
) -> Result<(), ApplyError> {
    for g in groups {
        if db.group.get(g).is_none() {
            return Err(err(format!(
                "failed to set groups of user {user}: group '{g}' does not exist"
            )));
        }
    }
    for table_idx in 0..2 {
        let (table, field) = if table_idx == 0 {
            (&mut db.group, 3)
        } else {
            (&mut db.gshadow, 3)
        };
        let mut changed = false;
        for l in table.lines.iter_mut().filter(|l| l.len() > field) {
            let mut members: Vec<String> = l[field]
                .split(',')
                .filter(|m| !m.is_empty())
                .map(str::to_string)
                .collect();
            let want = groups.contains(&l[0]);
            let has = members.iter().any(|m| m == user);
            if want && !has {
                members.push(user.to_string());
            } else if !want && has && !only_add {
                members.retain(|m| m != user);
            } else {
                continue;
            }
            l[field] = members.join(",");
            changed = true;
        }
        table.dirty |= changed;
    }
    Ok(())
}

fn ensure_user(
    ctx: &mut Ctx<'_>,
    db: &mut AccountDb,
    defs: &Defs,
    u: &PasswdUser,
    homes: &mut Vec<HomeAction>,
) -> Result<UserRecord, ApplyError> {
    let key = format!("user:{}", u.name);
    let existing = db.passwd.get(&u.name).filter(|l| l.len() >= 7).cloned();
    if u.should_exist == Some(false) {
        let Some(line) = existing else {
            return Ok(record_user(db, &u.name, AccountAction::Absent, None));
        };
        db.passwd.remove(&u.name);
        db.shadow.remove(&u.name);
        set_memberships(db, &u.name, &[], false)?;
        // userdel removes the user's private group when it has no members
        // left and is no other user's primary group.
        if defs.flag("USERGROUPS_ENAB") {
            let gid = &line[3];
            let private = db
                .group
                .get(&u.name)
                .is_some_and(|g| &g[2] == gid && g.get(3).is_none_or(|m| m.is_empty()));
            let other_primary = db.passwd.lines.iter().any(|l| l.len() >= 7 && &l[3] == gid);
            if private && !other_primary {
                db.group.remove(&u.name);
                db.gshadow.remove(&u.name);
            }
        }
        homes.push(HomeAction::Remove {
            name: u.name.clone(),
            uid: line[2].clone(),
            home: line[5].clone(),
        });
        return Ok(record_user(db, &u.name, AccountAction::Removed, None));
    }
    let hash = u
        .password_hash
        .as_deref()
        .map(|h| if h.is_empty() { "*" } else { h });
    if let Some(line) = existing {
        // usermod with the fields given.
        let mut line = line;
        let id = |v: &str| v.parse::<u32>().ok();
        let mut change = Usermod {
            name: u.name.clone(),
            home: line[5].clone(),
            move_to: None,
            old_uid: id(&line[2]).unwrap_or(0),
            new_uid: None,
            old_gid: id(&line[3]).unwrap_or(0),
            new_gid: None,
        };
        if let Some(uid) = u.uid {
            let uid = to_u32(uid, "uid", &u.name)?;
            if id(&line[2]) != Some(uid) {
                if db.used_uids().contains(&uid) {
                    return Err(err(format!(
                        "failed to modify user {}: usermod: UID '{uid}' already exists",
                        u.name
                    )));
                }
                change.new_uid = Some(uid);
            }
            line[2] = uid.to_string();
        }
        if let Some(g) = &u.gecos {
            line[4] = g.clone();
        }
        if let Some(pg) = &u.primary_group {
            let gid = resolve_group(db, pg, &u.name)?;
            if id(&line[3]) != Some(gid) {
                change.new_gid = Some(gid);
            }
            line[3] = gid.to_string();
        }
        if let Some(home) = &u.home_dir {
            // usermod compares the argument as given, then stores it
            // without trailing slashes.
            if *home != line[5] {
                change.move_to = Some(usermod_home(home));
            }
            line[5] = change.move_to.clone().unwrap_or_else(|| home.clone());
        }
        if change.needed() {
            change.note(ctx)?;
            homes.push(HomeAction::Modify {
                change,
                resumed: false,
            });
        } else if let Some(pending) = Usermod::pending(ctx, &u.name) {
            homes.push(HomeAction::Modify {
                change: pending,
                resumed: true,
            });
        }
        if let Some(s) = &u.shell {
            line[6] = s.clone();
        }
        if let Some(h) = hash {
            if db.shadow.present && db.shadow.get(&u.name).is_some() {
                let days = (ctx.now / 86400).to_string();
                if let Some(s) = db.shadow.get_mut(&u.name) {
                    // usermod -p also sets the date of the last change.
                    s[1] = h.to_string();
                    if s.len() > 2 {
                        s[2] = days;
                    }
                }
            } else {
                line[1] = h.to_string();
            }
        }
        db.passwd.upsert(line);
        if !u.groups.is_empty() {
            set_memberships(db, &u.name, &u.groups, false)?;
        }
        if !ctx.created_before(&key) {
            return Ok(record_user(db, &u.name, AccountAction::Modified, None));
        }
        // Created by an interrupted earlier attempt of this apply: finish
        // what useradd would have done (home, skeleton) and record it as
        // created.
        let line = db.passwd.get(&u.name).cloned().unwrap_or_default();
        if u.no_create_home != Some(true) && line.len() >= 7 {
            homes.push(HomeAction::Create {
                name: u.name.clone(),
                home: line[5].clone(),
                uid: line[2].parse().unwrap_or(0),
                gid: line[3].parse().unwrap_or(0),
            });
        }
        let user_group = db
            .group
            .get(&u.name)
            .filter(|g| line.len() >= 7 && g[2] == line[3])
            .map(|_| u.name.clone());
        return Ok(record_user(db, &u.name, AccountAction::Created, user_group));
    }

    // useradd
    let system = u.system == Some(true);
    let uid = match u.uid {
        Some(uid) => {
            let uid = to_u32(uid, "uid", &u.name)?;
            if db.used_uids().contains(&uid) {
                return Err(err(format!(
                    "failed to create user {}: useradd: UID {uid} is not unique",
                    u.name
                )));
            }
            uid
        }
        None => allocate_id(&db.used_uids(), defs.range("UID", system), system, None)
            .ok_or_else(|| err(format!("failed to create user {}: no free UID", u.name)))?,
    };
    let mut user_group = None;
    let gid = if let Some(pg) = &u.primary_group {
        resolve_group(db, pg, &u.name)?
    } else if u.no_user_group == Some(true) || !defs.flag("USERGROUPS_ENAB") {
        match defs.useradd("GROUP") {
            Some(g) => match g.parse::<u32>() {
                Ok(n) => n,
                Err(_) => resolve_group(db, g, &u.name)?,
            },
            None => 100,
        }
    } else {
        if db.group.get(&u.name).is_some() {
            return Err(err(format!(
                "failed to create user {}: useradd: group {} exists - if you want to add this user to that group, use -g.",
                u.name, u.name
            )));
        }
        let gid = allocate_id(
            &db.used_gids(),
            defs.range("GID", system),
            system,
            Some(uid),
        )
        .ok_or_else(|| err(format!("failed to create user {}: no free GID", u.name)))?;
        add_group(db, &u.name, gid, None, true);
        user_group = Some(u.name.clone());
        gid
    };
    let home = u.home_dir.clone().unwrap_or_else(|| {
        let base = defs.useradd("HOME").unwrap_or("/home");
        format!("{}/{}", base.trim_end_matches('/'), u.name)
    });
    let shell = u
        .shell
        .clone()
        .or_else(|| defs.useradd("SHELL").map(str::to_string))
        .unwrap_or_else(|| "/bin/bash".to_string());
    let password = hash.unwrap_or("*");
    let pw_field = if db.shadow.present { "x" } else { password };
    db.passwd.upsert(vec![
        u.name.clone(),
        pw_field.to_string(),
        uid.to_string(),
        gid.to_string(),
        u.gecos.clone().unwrap_or_default(),
        home.clone(),
        shell,
    ]);
    if db.shadow.present {
        let days = (ctx.now / 86400).to_string();
        let field = |key: &str| -> String {
            if system {
                return String::new();
            }
            match defs.num(key, -1) {
                -1 => String::new(),
                n => n.to_string(),
            }
        };
        let inactive = defs
            .useradd("INACTIVE")
            .filter(|v| *v != "-1")
            .unwrap_or("")
            .to_string();
        let expire = defs.useradd("EXPIRE").unwrap_or("").to_string();
        db.shadow.upsert(vec![
            u.name.clone(),
            password.to_string(),
            days,
            field("PASS_MIN_DAYS"),
            field("PASS_MAX_DAYS"),
            field("PASS_WARN_AGE"),
            inactive,
            expire,
            String::new(),
        ]);
    }
    if !u.groups.is_empty() {
        set_memberships(db, &u.name, &u.groups, true)?;
    }
    if u.no_create_home != Some(true) {
        homes.push(HomeAction::Create {
            name: u.name.clone(),
            home: home.clone(),
            uid,
            gid,
        });
    }
    ctx.note_created(&key)?;
    Ok(record_user(db, &u.name, AccountAction::Created, user_group))
}

fn record_user(
    db: &AccountDb,
    name: &str,
    action: AccountAction,
    user_group: Option<String>,
) -> UserRecord {
    let line = db.passwd.get(name).filter(|l| l.len() >= 7);
    let groups = db
        .group
        .lines
        .iter()
        .filter(|l| l.len() > 3 && l[3].split(',').any(|m| m == name))
        .map(|l| l[0].clone())
        .collect();
    UserRecord {
        name: name.to_string(),
        action,
        uid: line.and_then(|l| l[2].parse().ok()),
        gid: line.and_then(|l| l[3].parse().ok()),
        home: line.map(|l| l[5].clone()),
        home_created: false,
        user_group,
        groups,
        passwd_line: line.map(|l| l.join(":")),
        shadow_line: db.shadow.get(name).map(|l| l.join(":")),
    }
}

/// Exposed for the files stage: the uid/gid of a node's user/group by id or
/// by name in the target root.
pub(crate) fn lookup_ids(
    ctx: &mut Ctx<'_>,
    path: &str,
    user: &reignite_spec::NodeUser,
    group: &reignite_spec::NodeGroup,
    default: (u32, u32),
) -> Result<(u32, u32), ApplyError> {
    let (mut uid, mut gid) = default;
    if let Some(id) = user.id {
        uid = to_u32(id, "uid", path)?;
    } else if let Some(name) = user.name.as_deref().filter(|n| !n.is_empty()) {
        uid = ctx
            .accounts()?
            .uid_of(name)
            .ok_or_else(|| ApplyError::UnknownAccount {
                path: path.to_string(),
                what: "user",
                name: name.to_string(),
            })?;
    }
    if let Some(id) = group.id {
        gid = to_u32(id, "gid", path)?;
    } else if let Some(name) = group.name.as_deref().filter(|n| !n.is_empty()) {
        gid = ctx
            .accounts()?
            .gid_of(name)
            .ok_or_else(|| ApplyError::UnknownAccount {
                path: path.to_string(),
                what: "group",
                name: name.to_string(),
            })?;
    }
    Ok((uid, gid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::Table;

    fn db() -> AccountDb {
        let table = |text: &str| Table {
            present: true,
            lines: text
                .lines()
                .map(|l| l.split(':').map(str::to_string).collect())
                .collect(),
            perms: None,
            dirty: false,
        };
        AccountDb {
            passwd: table("root:x:0:0::/root:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh\n"),
            group: table("wheel:x:10:root\ndocker:x:20:u\nu:x:1000:\n"),
            gshadow: table("wheel:!::root\ndocker:!::u\nu:!::\n"),
            ..Default::default()
        }
    }

    #[test]
    fn usermod_groups_replace_and_useradd_groups_add() {
        let mut d = db();
        set_memberships(&mut d, "u", &["wheel".to_string()], false).unwrap();
        assert_eq!(d.group.get("wheel").unwrap()[3], "root,u");
        assert_eq!(d.group.get("docker").unwrap()[3], "");
        assert_eq!(d.gshadow.get("docker").unwrap()[3], "");
        let mut d = db();
        set_memberships(&mut d, "u", &["wheel".to_string()], true).unwrap();
        assert_eq!(
            d.group.get("docker").unwrap()[3],
            "u",
            "useradd -G only adds"
        );
        assert!(set_memberships(&mut d, "u", &["nope".to_string()], true).is_err());
    }

    #[test]
    fn user_private_group_password_field() {
        let mut d = db();
        d.gshadow.present = false;
        add_group(&mut d, "a", 2000, None, true);
        add_group(&mut d, "b", 2001, None, false);
        add_group(&mut d, "c", 2002, Some("$6$h"), false);
        assert_eq!(d.group.get("a").unwrap()[1], "!");
        assert_eq!(d.group.get("b").unwrap()[1], "x");
        assert_eq!(d.group.get("c").unwrap()[1], "$6$h");
    }
}
