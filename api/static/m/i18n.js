// Words of the app in Chinese (first) and English; the choice is kept on the phone.
const WORDS = {
  title: ["网格员", "Grid worker"], login_title: ["网格员登录", "Grid worker log in"],
  user: ["用户名", "User"], password: ["密码", "Password"], login: ["登录", "Log in"],
  logout: ["退出登录", "Log out"], work: ["我的任务", "My work"], report: ["上报", "Report"],
  patrol: ["巡查", "Patrol"], visits: ["走访", "Visits"], queue: ["待发送", "Queue"],
  note: ["说明", "Note"], photos: ["照片", "Photos"], subcategory: ["小类", "Subcategory"],
  description: ["描述", "Description"], position: ["位置", "Position"],
  use_gps: ["用我的位置", "Use my position"], pin_hint: ["或在地图上点选位置", "or tap the map to place a pin"],
  send: ["提交", "Send"], send_anyway: ["仍然提交", "Send anyway"],
  start_duty: ["开始巡查", "Start duty"], stop_duty: ["结束巡查", "Stop duty"],
  fixes: ["已记录位置", "Positions recorded"], queued_fixes: ["待上传", "waiting to upload"],
  unpatrolled: ["本半日未巡网格", "My grids not yet patrolled this half day"],
  all_patrolled: ["本半日网格均已巡查", "All my grids patrolled this half day"],
  today: ["今日走访", "Visits today"], find_buildings: ["查找附近楼栋", "Find nearby buildings"],
  key_household: ["重点家庭", "Key household"], save_visit: ["记录走访", "Record visit"],
  queue_hint: ["离线时的操作保存在手机上，联网后按顺序发送。", "What you do offline is kept on the phone and sent in order when the connection returns."],
  send_now: ["立即发送", "Send now"], handle: ["处置", "Handle"], feedback: ["反馈", "Feed back"],
  due: ["期限", "due"], paused: ["计时暂停", "clock paused"], overdue: ["超期", "overdue"], nothing: ["暂无", "nothing"],
  ask_extension: ["申请延期（1个工作日）", "Ask 1 more working day"],
  need_reason: ["请在说明中写明延期原因", "write why in the note first"],
  queued: ["已保存，待发送", "saved, waiting to send"], sent: ["已发送", "sent"],
  conflict: ["冲突：事件已变化", "conflict: the incident moved on"], failed: ["被拒绝", "refused"],
  waiting: ["等待", "waiting"], dismiss: ["知道了", "Dismiss"],
  need_position: ["请先确定位置", "a position is needed first"],
  need_category: ["请选择类别", "choose a category"],
  dups: ["附近已有类似事件：", "Similar incidents nearby:"],
  nearest_on_send: ["发送时匹配最近楼栋（30米内）", "nearest building, matched when sent (within 30 m)"],
  households: ["户", "households"], offline: ["离线", "offline"], online: ["在线", "online"],
  in_queue: ["待发送", "queued"],
  // my month (123456 measures against their norms)
  month: ["我的月度", "My month"], fetched_at: ["数据时间", "Fetched"],
  offline_copy: ["离线副本", "offline copy"], no_month: ["暂无本月数据", "no figures for this month yet"],
  m_patrol: ["1 半日一巡（巡查时段）", "1 Half-day patrols (windows)"],
  m_key_visits: ["2 重点家庭走访（每户每月2次）", "2 Key-household visits (2 a month each)"],
  m_must_attend: ["3 必到事件已核实到场", "3 Must-attend cases verified"],
  m_must_report: ["4 必报上报数", "4 Must-report reports"],
  m_visit_days: ["5 每日走访≥5户的天数", "5 Days with ≥5 visits"],
  m_report_weeks: ["6 每周上报≥6件的周数", "6 Weeks with ≥6 reports"],
  stars: ["星级", "Stars"], notes: ["说明", "Notes"],
  security_hazard: ["治安隐患", "Public order"], safety_hazard: ["安全隐患", "Safety hazard"],
  population: ["人口变动", "Population change"], public_facility: ["设施损坏", "Damaged facility"],
  dispute: ["矛盾纠纷", "Dispute"], environment: ["环境卫生", "Environment"], other: ["其他", "Other"],
  dispatched: ["已分拨", "dispatched"], handling: ["处置中", "handling"],
  incident: ["事件", "Incident"], visit: ["走访", "Visit"], photo: ["照片", "Photo"],
  fixes_batch: ["巡查轨迹", "Patrol positions"], step: ["处置步骤", "Step"],
  // subcategories of the 4必报 kinds
  theft: ["盗窃", "theft"], fraud: ["诈骗", "fraud"], gambling: ["赌博", "gambling"],
  drugs: ["涉毒", "drugs"], suspicious: ["可疑情况", "suspicious"], fire: ["消防隐患", "fire"],
  gas: ["燃气隐患", "gas"], construction: ["施工隐患", "construction"], traffic: ["交通隐患", "traffic"],
  flood: ["防汛隐患", "flood"], move_in: ["人员迁入", "moving in"], rental: ["出租房屋", "rental"],
  road: ["道路", "road"], streetlight: ["路灯", "streetlight"], manhole: ["井盖", "manhole"],
  water_pipe: ["水管", "water pipe"], railing: ["护栏", "railing"],
};

let lang = localStorage.getItem("gridgis.lang") || "zh";

export function t(key) {
  const pair = WORDS[key];
  return pair ? pair[lang === "en" ? 1 : 0] : key;
}

export function currentLang() { return lang; }

export function toggleLang() {
  lang = lang === "zh" ? "en" : "zh";
  localStorage.setItem("gridgis.lang", lang);
  apply();
}

// Every element with data-t="key" shows the word in the chosen language.
export function apply(root = document) {
  document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
  for (const el of root.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  const button = document.getElementById("lang");
  if (button) button.textContent = lang === "zh" ? "EN" : "中文";
}
