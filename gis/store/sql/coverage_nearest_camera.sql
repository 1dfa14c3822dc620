-- Nearest camera of each blind spot of the given grids, in metres on the spheroid.
-- Done in SQL over ALL cameras (not only those loaded for the analysis), so a grid
-- recomputed alone gets the same answer as in a full run. The 16 nearest by index
-- distance (degrees) are re-ranked by true distance: degrees are not square away
-- from the equator.
UPDATE blind_spots s
SET nearest_camera = n.name, camera_m = n.metres
FROM (
    SELECT b.id, c.name, c.metres
    FROM blind_spots b
    CROSS JOIN LATERAL (
        SELECT k.name, ST_Distance(k.geom::geography, b.geom::geography) AS metres
        FROM (
            SELECT COALESCE(cam.code, cam.id::text) AS name, cam.geom
            FROM cameras cam
            WHERE :include_offline OR cam.status = 'online'
            ORDER BY cam.geom <-> b.geom
            LIMIT 16
        ) k
        ORDER BY 2, 1
        LIMIT 1
    ) c
    WHERE b.grid_code = ANY(:codes)
) n
WHERE s.id = n.id
