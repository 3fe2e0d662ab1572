/* The dashboard's map (Leaflet, vendored) and the panels' periodic refresh. No CDN, no build step.
   The map draws the county outlines and the mines by risk band whether or not a basemap is configured. */
(function () {
  "use strict";

  function drawMap(el) {
    if (!el || !window.L) return;
    var bands = JSON.parse(el.dataset.bands || "[]");
    var colourOf = {}, labelOf = {};
    bands.forEach(function (b) { colourOf[b.band] = b.colour; labelOf[b.band] = b.label; });
    var map = L.map(el, {zoomSnap: 0.25, preferCanvas: true, attributionControl: !!el.dataset.basemap});
    map.setView([41.2, 117.9], 7.5);
    if (el.dataset.basemap) {
      L.tileLayer(el.dataset.basemap, {attribution: el.dataset.attribution || "", maxZoom: 18}).addTo(map);
    }
    var focus = el.dataset.focus;
    fetch(el.dataset.outlines).then(function (r) { return r.json(); }).then(function (outlines) {
      var layer = L.geoJSON(outlines, {
        style: function (f) {
          var mine = !focus || f.properties.code === focus;
          return {color: "#4b5563", weight: mine ? 1.6 : 0.8, fillColor: mine ? "#ffffff" : "#e5e7eb",
                  fillOpacity: el.dataset.basemap ? 0.15 : 0.9};
        },
        onEachFeature: function (f, l) { l.bindTooltip(f.properties.name, {sticky: true}); }
      }).addTo(map);
      layer.bringToBack();
      var target = layer;
      if (focus) {
        layer.eachLayer(function (l) { if (l.feature.properties.code === focus) target = l; });
      }
      map.fitBounds(target.getBounds(), {padding: [8, 8]});
      el.dataset.outlinesDrawn = String(outlines.features.length);
    }).catch(function () { el.dataset.outlinesDrawn = "0"; });

    var points = L.layerGroup().addTo(map);
    function loadPoints() {
      return fetch(el.dataset.points, {credentials: "same-origin"}).then(function (r) { return r.json(); })
        .then(function (data) {
          points.clearLayers();
          data.features.forEach(function (f) {
            var p = f.properties, c = f.geometry.coordinates;
            var marker = L.circleMarker([c[1], c[0]], {radius: 5, weight: 1, color: "#1f2937",
              fillColor: colourOf[p.band] || "#9ca3af", fillOpacity: 0.9});
            var popup = document.createElement("div");
            var link = document.createElement("a");
            link.href = p.url; link.textContent = p.name;
            popup.appendChild(link);
            popup.appendChild(document.createElement("br"));
            popup.appendChild(document.createTextNode(p.type + " · " + p.status + " · " + (labelOf[p.band] || "")));
            marker.bindPopup(popup);
            marker.addTo(points);
          });
          el.dataset.points_drawn = String(data.features.length);
          el.setAttribute("data-points-drawn", String(data.features.length));
          var note = document.getElementById("dash-map-unplaced");
          if (data.unplaced && !note) {
            note = document.createElement("p");
            note.id = "dash-map-unplaced"; note.className = "hint";
            el.parentNode.appendChild(note);
          }
          if (note) note.textContent = data.unplaced ? data.unplaced + " " + el.dataset.unplacedText : "";
        });
    }
    loadPoints();
    setInterval(loadPoints, 300000);

    var legend = L.control({position: "bottomright"});
    legend.onAdd = function () {
      var box = L.DomUtil.create("div", "dash-legend");
      bands.forEach(function (b) {
        var row = document.createElement("div");
        var dot = document.createElement("span");
        dot.className = "dot"; dot.style.background = b.colour;
        row.appendChild(dot); row.appendChild(document.createTextNode(" " + b.label));
        box.appendChild(row);
      });
      return box;
    };
    legend.addTo(map);
  }

  function refreshPanels(box) {
    if (!box) return;
    var seconds = parseInt(box.dataset.seconds || "60", 10);
    setInterval(function () {
      fetch(box.dataset.url, {credentials: "same-origin"}).then(function (r) {
        if (!r.ok) throw new Error(r.status);
        return r.text();
      }).then(function (html) {
        box.innerHTML = html;
        box.dataset.refreshed = new Date().toISOString();
      }).catch(function () { box.classList.add("stale"); });
    }, seconds * 1000);
  }

  function clock(el) {
    if (!el) return;
    function tick() {
      var d = new Date(), pad = function (n) { return (n < 10 ? "0" : "") + n; };
      el.textContent = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
        pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
    }
    tick(); setInterval(tick, 1000);
  }

  drawMap(document.getElementById("dash-map"));
  refreshPanels(document.getElementById("dash-refresh"));
  clock(document.getElementById("screen-clock"));
})();
